/**
 * The token family of the fake: `GET /cgi-bin/gettoken?corpid&corpsecret`
 * (41002 / 41004 missing, 40013 unknown corp, 40001 wrong secret; else a new
 * random token valid `tokenTtlSeconds`, older tokens staying valid until their
 * own expiry), the access-token check of every other route (41001 missing,
 * 40014 unknown or revoked, 42001 expired), and revoking or expiring tokens.
 *
 * @example Usage
 * ```ts ignore
 * import { authenticate } from "./token.ts";
 * const app = authenticate(fake, query.access_token, fake.settings.now());
 * ```
 *
 * @module
 */

import { WeComError } from "./errors.ts";
import type { Route, RouteContext, RouteResult } from "./route.ts";
import { type Fake, randomToken } from "./state.ts";
import type { FakeApp } from "./types.ts";

function gettoken(fake: Fake, ctx: RouteContext): RouteResult {
  const { corpid, corpsecret } = ctx.query;
  if (!corpid) throw new WeComError(41002);
  if (!corpsecret) throw new WeComError(41004);
  const corpApps = fake.state.apps.filter((a) => a.corpId === corpid);
  if (corpApps.length === 0) throw new WeComError(40013);
  const app = corpApps.find((a) => a.corpSecret === corpsecret);
  if (!app) throw new WeComError(40001);
  ctx.request.agentId = app.agentId;
  const token = randomToken(48);
  const { ttlMs } = fake.settings;
  fake.state.tokens.set(token, { app, expiresAt: ctx.now + ttlMs, revoked: false });
  return { errcode: 0, errmsg: "ok", access_token: token, expires_in: ttlMs / 1000 };
}

/** The token routes by path. */
export const TOKEN_ROUTES: Record<string, Route> = {
  "/cgi-bin/gettoken": {
    api: "gettoken",
    method: "GET",
    auth: false,
    body: "none",
    handle: gettoken,
  },
};

/** The app of a valid `token` at time `t`; throws the WeComError WeCom answers otherwise. */
export function authenticate(fake: Fake, token: string | undefined, t: number): FakeApp {
  if (!token) throw new WeComError(41001);
  const issued = fake.state.tokens.get(token);
  if (!issued || issued.revoked) throw new WeComError(40014);
  if (issued.expiresAt <= t) throw new WeComError(42001);
  return issued.app;
}

/** Revokes every issued token: the next use answers 40014. */
export function revokeTokens(fake: Fake): void {
  for (const issued of fake.state.tokens.values()) issued.revoked = true;
}

/** Expires every issued token: the next use answers 42001. */
export function expireTokens(fake: Fake): void {
  const t = fake.settings.now();
  for (const issued of fake.state.tokens.values()) issued.expiresAt = Math.min(issued.expiresAt, t);
}

/**
 * The fake's HTTP front: records every request in `received`, applies an
 * injected fault, checks method, access token and JSON body, then hands the
 * request to its route family (token, message, media). Started on 127.0.0.1,
 * port 0.
 *
 * @example Usage
 * ```ts ignore
 * import { startFakeWeComApi } from "./server.ts";
 * const api = startFakeWeComApi({ users: ["zhangsan"], now: () => clock });
 * try {
 *   // … point an AppConfig's apiBase at api.url …
 * } finally {
 *   await api.close();
 * }
 * ```
 *
 * @module
 */

import { createSleeps } from "../sleeps.ts";
import { errorAnswer, jsonResponse, WeComError } from "./errors.ts";
import { applyFault, createFaults, type Faults } from "./faults.ts";
import { addMedia, MEDIA_ROUTES, uploads } from "./media.ts";
import { MESSAGE_ROUTES } from "./message.ts";
import type { Route } from "./route.ts";
import { createFake, type Fake } from "./state.ts";
import { authenticate, expireTokens, revokeTokens, TOKEN_ROUTES } from "./token.ts";
import type { FakeRequest, FakeWeComApi, FakeWeComOptions } from "./types.ts";

/** One entry per API path. */
const ROUTES: Record<string, Route> = { ...TOKEN_ROUTES, ...MESSAGE_ROUTES, ...MEDIA_ROUTES };

/** The request's form (multipart routes) or text, and its body as `received` records it. */
async function readBody(
  req: Request,
  route: Route | undefined,
): Promise<{ form?: FormData; parsed: unknown }> {
  let form: FormData | undefined;
  let text = "";
  if (route?.body === "multipart" && req.body) {
    try {
      form = await req.formData();
    } catch {
      form = undefined;
    }
  } else if (req.body) {
    text = await req.text();
  }
  let parsed: unknown = undefined;
  if (form) {
    const file = form.get("media");
    parsed = file instanceof File
      ? { media: { filename: file.name, contentType: file.type, size: file.size } }
      : {};
  } else if (text !== "") {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { form, parsed };
}

async function handle(
  fake: Fake,
  faults: Faults,
  sleep: (ms: number) => Promise<void>,
  req: Request,
): Promise<Response> {
  const url = new URL(req.url);
  const query = Object.fromEntries(url.searchParams);
  const route = ROUTES[url.pathname];
  const { form, parsed } = await readBody(req, route);
  const request: FakeRequest = {
    api: route?.api ?? "unknown",
    method: req.method,
    path: url.pathname,
    query,
    body: parsed,
    at: fake.settings.now(),
  };
  fake.received.push(request);
  if (!route) return new Response("404 page not found", { status: 404 });

  // One injected behaviour per request, before normal handling.
  const faulted = await applyFault(faults.next(route.api), sleep);
  if (faulted) return faulted;

  try {
    if (req.method !== route.method) throw new WeComError(40058, "invalid request method");
    const t = fake.settings.now();
    let app = fake.state.apps[0];
    if (route.auth) {
      app = authenticate(fake, query.access_token, t);
      request.agentId = app.agentId;
    }
    let json: Record<string, unknown> = {};
    if (route.body === "json") {
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
        throw new WeComError(40058, "invalid json");
      }
      json = parsed as Record<string, unknown>;
    }
    const result = await route.handle(fake, {
      query,
      json,
      form,
      range: req.headers.get("range"),
      app,
      request,
      now: t,
    });
    return result instanceof Response ? result : jsonResponse(result);
  } catch (error) {
    if (error instanceof WeComError) return errorAnswer(error);
    throw error;
  }
}

/**
 * Starts the fake WeCom API on 127.0.0.1 (ephemeral port).
 *
 * @example Usage
 * ```ts ignore
 * const api = startFakeWeComApi({ users: ["zhangsan"], now: () => clock });
 * try {
 *   // … point an AppConfig's apiBase at api.url …
 * } finally {
 *   await api.close();
 * }
 * ```
 */
export function startFakeWeComApi(options: FakeWeComOptions = {}): FakeWeComApi {
  const fake = createFake(options);
  const faults = createFaults();
  const { sleep, wakeAll } = createSleeps();
  const { state, received } = fake;

  let closing: Promise<void> | undefined;
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    // A dropped connection reports its stream error here; answer quietly.
    onError: () => new Response("fake WeCom API error", { status: 500 }),
  }, (req) => handle(fake, faults, sleep, req));

  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    state,
    received,
    inject: faults.inject,
    delivered(userId) {
      return userId === undefined
        ? [...state.delivered]
        : state.delivered.filter((m) => m.touser === userId);
    },
    gettokenCalls(agentId) {
      return received.filter((r) =>
        r.api === "gettoken" && (agentId === undefined || r.agentId === agentId)
      ).length;
    },
    revokeTokens: () => revokeTokens(fake),
    expireTokens: () => expireTokens(fake),
    addMedia: (bytes, media) => addMedia(fake, bytes, media),
    uploads: () => uploads(fake),
    close() {
      wakeAll();
      closing ??= server.shutdown();
      return closing;
    },
  };
}

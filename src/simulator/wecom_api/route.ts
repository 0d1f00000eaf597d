/**
 * The shape of one fake route: its API name, method, whether it needs an
 * access token, how its body is read, and the handler that gets the fake's
 * state and the request's context.
 *
 * @example Usage
 * ```ts ignore
 * import type { Route } from "./route.ts";
 * const ping: Route = {
 *   api: "gettoken", method: "GET", auth: false, body: "none",
 *   handle: () => ({ errcode: 0, errmsg: "ok" }),
 * };
 * ```
 *
 * @module
 */

import type { Fake } from "./state.ts";
import type { FakeApiName, FakeApp, FakeRequest } from "./types.ts";

/** A JSON answer or a raw Response from a route handler. */
export type RouteResult =
  | Record<string, unknown>
  | Response
  | Promise<Record<string, unknown> | Response>;

/** What a handler gets about the request. */
export interface RouteContext {
  query: Record<string, string>;
  /** The parsed JSON body (routes with `body: "json"`). */
  json: Record<string, unknown>;
  /** The form (routes with `body: "multipart"`). */
  form?: FormData;
  /** The `Range` header, if any. */
  range: string | null;
  /** The app of the access token (routes with `auth: true`). */
  app: FakeApp;
  request: FakeRequest;
  now: number;
}

/** One API path of the fake. */
export interface Route {
  api: FakeApiName;
  method: "GET" | "POST";
  /** Needs a valid `access_token`. */
  auth: boolean;
  body: "json" | "none" | "multipart";
  handle(fake: Fake, ctx: RouteContext): RouteResult;
}

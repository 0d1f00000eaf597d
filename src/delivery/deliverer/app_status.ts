/**
 * App status: when WeCom refuses an app for a reason the operator must fix
 * (60020, this server's IP is not trusted; or its credentials), delivery
 * records it at `keys.appStatus(app)` (read by `jobs status` and the metrics)
 * and logs it once per app; the first send that works again records the app
 * as delivering. Sends of the app keep being retried meanwhile (see
 * `./failures.ts`).
 *
 * @example Usage
 * ```ts ignore
 * import { appProblem, appRecovered } from "./app_status.ts";
 * await appProblem(state, app, "ip_not_trusted", error);
 * // … a later send of the app worked:
 * if (state.reported.has(app.name)) await appRecovered(state, app);
 * ```
 *
 * @module
 */

import type { AppConfig } from "../../config/types.ts";
import { type AppDeliveryStatus, writeAppStatus } from "../../records/app_status.ts";
import { describeError } from "../retry_policy.ts";
import type { DeliveryState } from "./state.ts";

/** Records that WeCom refused `app` (`problem`: `ip_not_trusted` or `credentials`). */
export async function appProblem(
  state: DeliveryState,
  app: AppConfig,
  problem: string,
  error: unknown,
): Promise<void> {
  const message = problem === "ip_not_trusted"
    ? `WeCom refused app '${app.name}' because this server's IP is not trusted (errcode 60020): ` +
      "add this server's egress IP to the app's trusted IPs (应用管理 → the app → 企业可信IP); " +
      "it applies after about a minute, and delivery keeps retrying until then."
    : `WeCom refused the credentials of app '${app.name}': ${describeError(error)}`;
  const status: AppDeliveryStatus = {
    app: app.name,
    ok: false,
    problem,
    errcode: (error as { errcode?: number }).errcode,
    message,
    at: state.now(),
  };
  await writeAppStatus(state.kv, status);
  if (!state.reported.has(app.name)) {
    state.reported.add(app.name);
    state.log("error", message, { app: app.name, errcode: status.errcode });
  }
}

/** Records that `app` delivers again (after a problem was reported). */
export async function appRecovered(state: DeliveryState, app: AppConfig): Promise<void> {
  state.reported.delete(app.name);
  const status: AppDeliveryStatus = {
    app: app.name,
    ok: true,
    message: "WeCom accepts sends again",
    at: state.now(),
  };
  await writeAppStatus(state.kv, status);
  state.log("info", `app '${app.name}' delivers again`, { app: app.name });
}

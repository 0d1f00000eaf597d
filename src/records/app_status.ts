/**
 * The app status record: delivery's last word on an app (ok, or a problem the
 * operator must fix such as an untrusted IP or refused credentials), at
 * `keys.appStatus(app)`.
 *
 * @example Usage
 * ```ts
 * import type { AppDeliveryStatus } from "./app_status.ts";
 * const status: AppDeliveryStatus = { app: "default", ok: true, message: "delivering", at: Date.now() };
 * console.assert(status.ok);
 * ```
 *
 * @module
 */

/** The value at `keys.appStatus(app)` as delivery writes it. */
export interface AppDeliveryStatus {
  app: string;
  /** False while the app has a problem the operator must fix. */
  ok: boolean;
  /** `ip_not_trusted` or `credentials` when not ok. */
  problem?: string;
  errcode?: number;
  /** What happened and what to do (no secrets, no content). */
  message: string;
  /** Epoch ms. */
  at: number;
}

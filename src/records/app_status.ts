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

import { keys } from "../store/keys.ts";

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

/**
 * Every app's delivery status recorded in KV, in app name order.
 *
 * @example Usage
 * ```ts
 * import { listAppStatuses } from "./app_status.ts";
 * const kv = await Deno.openKv(":memory:");
 * console.assert((await listAppStatuses(kv)).length === 0);
 * kv.close();
 * ```
 */
export async function listAppStatuses(kv: Deno.Kv): Promise<AppDeliveryStatus[]> {
  const statuses: AppDeliveryStatus[] = [];
  for await (const entry of kv.list<AppDeliveryStatus>({ prefix: keys.appStatusPrefix() })) {
    statuses.push(entry.value);
  }
  return statuses;
}

/**
 * Records `status` as its app's delivery status (delivery writes it on a
 * problem and on recovery; the CLI and the console read it).
 *
 * @example Usage
 * ```ts
 * import { listAppStatuses, writeAppStatus } from "./app_status.ts";
 * const kv = await Deno.openKv(":memory:");
 * await writeAppStatus(kv, { app: "main", ok: true, message: "sending", at: Date.now() });
 * console.assert((await listAppStatuses(kv))[0].ok);
 * kv.close();
 * ```
 */
export async function writeAppStatus(kv: Deno.Kv, status: AppDeliveryStatus): Promise<void> {
  await kv.set(keys.appStatus(status.app), status);
}

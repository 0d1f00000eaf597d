/**
 * The start-up failures a user can fix, which `serve` and demo mode report as
 * the error's one-line message (exit 2) instead of a stack trace: the callback
 * server cannot listen, the KV store cannot be opened, or another gateway
 * already serves callbacks from the same KV file.
 *
 * @example Usage
 * ```ts
 * import { isStartError } from "./start_failure.ts";
 * import { KvOpenError } from "../store/kv.ts";
 * console.assert(isStartError(new KvOpenError("/nope/kv.sqlite3", new Error("denied"))));
 * console.assert(!isStartError(new Error("a bug")));
 * ```
 *
 * @module
 */

import { ListenError } from "../http/listen_error.ts";
import { KvOpenError } from "../store/kv.ts";
import { KvFileInUseError } from "../store/kv_lock.ts";

/** True for a failure whose message alone tells the user what to do. */
export function isStartError(
  error: unknown,
): error is ListenError | KvOpenError | KvFileInUseError {
  return error instanceof ListenError || error instanceof KvOpenError ||
    error instanceof KvFileInUseError;
}

/**
 * What a running demo does to its process: the gateway's own log quieted to
 * warnings (restored afterwards), and SIGINT/SIGTERM turned into a clean stop
 * (a second signal exits at once).
 *
 * @example Usage
 * ```ts ignore
 * import { onStopSignal, quietLogs } from "./demo_session.ts";
 * const restoreLogs = quietLogs(false);
 * const stop = Promise.withResolvers<void>();
 * const removeSignals = onStopSignal(() => stop.resolve());
 * await stop.promise;
 * removeSignals();
 * restoreLogs();
 * ```
 *
 * @module
 */

import { type LogLevel, setLogSink } from "../log.ts";

/** Quiets the gateway's own log to warnings unless `verbose`; returns the restore function. */
export function quietLogs(verbose: boolean): () => void {
  if (verbose) return () => {};
  const probe = { format: "human" as const, level: "warn" as LogLevel, write: () => {} };
  const previous = setLogSink(probe);
  const quiet: LogLevel = previous.level === "error" ? "error" : "warn";
  setLogSink({ ...previous, level: quiet });
  return () => setLogSink(previous);
}

/** Calls `onSignal` on SIGINT/SIGTERM (a second one exits at once); returns the remover. */
export function onStopSignal(onSignal: () => void): () => void {
  let signals = 0;
  const handler = () => {
    if (++signals > 1) Deno.exit(130);
    onSignal();
  };
  Deno.addSignalListener("SIGINT", handler);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", handler);
  return () => {
    Deno.removeSignalListener("SIGINT", handler);
    if (Deno.build.os !== "windows") Deno.removeSignalListener("SIGTERM", handler);
  };
}

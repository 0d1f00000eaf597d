/**
 * The gateway's CLI with a memory probe: every second, one line
 * `memory {"rss":…,"heapTotal":…,"heapUsed":…,"external":…}` (bytes, from
 * `Deno.memoryUsage()` of the main thread) on stderr. Started by the
 * benchmarks instead of `main.ts` when they report where memory goes: RSS
 * minus the main isolate's heap and external memory is what Web Workers,
 * Deno KV (SQLite) and the runtime hold.
 *
 * @example Usage
 * ```sh
 * deno run -A --unstable-kv bench/lib/memory_gateway.ts serve --role all --config config.yaml
 * ```
 *
 * @module
 */

import { main } from "../../src/cli/main.ts";

/** The fields of a probe line. */
export interface MemoryProbe {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
}

/** The last probe line in `text` (a process's stderr tail), or undefined. */
export function lastProbe(text: string): MemoryProbe | undefined {
  const lines = text.split("\n").filter((line) => line.startsWith("memory {"));
  const last = lines[lines.length - 1];
  return last ? JSON.parse(last.slice("memory ".length)) as MemoryProbe : undefined;
}

if (import.meta.main) {
  const timer = setInterval(() => {
    console.error(`memory ${JSON.stringify(Deno.memoryUsage())}`);
  }, 1000);
  Deno.unrefTimer(timer);
  Deno.exit(await main(Deno.args));
}

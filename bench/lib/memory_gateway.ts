/**
 * The gateway's CLI with a memory probe: every second, one line
 * `memory {"rss":…,"heapTotal":…,"heapUsed":…,"external":…}` (bytes, from
 * `Deno.memoryUsage()` of the main thread) on stderr. Started by the
 * benchmarks instead of `main.ts` when they report where memory goes: RSS
 * minus the main isolate's heap and external memory is what Web Workers,
 * Deno KV (SQLite) and the runtime hold.
 * Its probe lines are read back with `lastProbe` and written as text with
 * `probeText`; `rssSplit` writes a process's RSS as private and mapped files.
 *
 * @example Usage
 * ```sh
 * deno run -A --unstable-kv bench/lib/memory_gateway.ts serve --role all --config config.yaml
 * ```
 *
 * @module
 */

import { main } from "../../src/cli/main.ts";
import { fmt } from "./report.ts";
import type { ServerProcess } from "./server_process.ts";

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

/** RSS split as "private 20.1 MiB, files 40.2 MiB (mostly the deno executable's pages)". */
export async function rssSplit(server: ServerProcess): Promise<string> {
  const anon = (await server.statusKiB("RssAnon")) / 1024;
  const file = (await server.statusKiB("RssFile")) / 1024;
  return `private ${fmt(anon)} MiB, mapped files ${fmt(file)} MiB (mostly the deno executable)`;
}

/** A memory probe as "heap used/total 12.0/20.0 MiB, external 3.0 MiB, RSS 60.0 MiB". */
export function probeText(probe: MemoryProbe | undefined): string {
  if (!probe) return "(no probe)";
  const mib = (bytes: number) => fmt(bytes / 2 ** 20);
  return `heap used/total ${mib(probe.heapUsed)}/${mib(probe.heapTotal)} MiB, external ${
    mib(probe.external)
  } MiB, RSS ${mib(probe.rss)} MiB`;
}

if (import.meta.main) {
  const timer = setInterval(() => {
    console.error(`memory ${JSON.stringify(Deno.memoryUsage())}`);
  }, 1000);
  Deno.unrefTimer(timer);
  Deno.exit(await main(Deno.args));
}

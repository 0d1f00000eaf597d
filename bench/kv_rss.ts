/**
 * Does Deno KV's private memory grow with its file? Two fresh processes side
 * by side, each with its own KV file, commit the same stream of records the
 * size of a finished job and its reply (`--bytes`, 1,100 per message: what
 * the soak's KV file grows by per message) at `--rate` (500) messages a
 * second for `--minutes` (3), in 5 commits per message as the pipeline does:
 *
 * - `keep`: records stay (as finished jobs kept for their retention): the
 *   file grows all along;
 * - `delete`: each message's records are deleted 2 s later: the file stays
 *   small; the same commits otherwise.
 *
 * Every 15 s each process reports its private RSS (`RssAnon`), the part of
 * it outside the V8 heap (private − heap total: SQLite, the allocator, the
 * runtime), mapped files (`RssFile`), the V8 heap and the KV file size; at
 * the end the slopes per minute after the first minute, for both. A growth in `keep` that
 * `delete` does not show is memory that follows the file (SQLite's page cache
 * or the KV's own structures), not ours in JavaScript.
 *
 * Run: `deno run -A --unstable-kv bench/kv_rss.ts [--minutes 3] [--rate 500] [--bytes 1100]`
 *
 * @example Usage
 * ```sh
 * deno run -A --unstable-kv bench/kv_rss.ts --minutes 2 --rate 300
 * ```
 *
 * @module
 */

import { flag, integerFlag } from "./lib/args.ts";
import { fmt } from "./lib/report.ts";
import { slope } from "./lib/stats.ts";
import { startTaskV8Flags } from "./lib/server_process.ts";

interface Sample {
  minute: number;
  anon: number;
  file: number;
  heap: number;
  kv: number;
}

const MIB = 2 ** 20;

async function kib(field: string): Promise<number> {
  const status = await Deno.readTextFile("/proc/self/status");
  return Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1]);
}

async function fileMiB(path: string): Promise<number> {
  let total = 0;
  for (const suffix of ["", "-wal", "-shm"]) {
    total += await Deno.stat(path + suffix).then((s) => s.size, () => 0);
  }
  return total / MIB;
}

/** The child: commits the stream and prints one JSON sample line every 15 s. */
async function child(mode: string, path: string, minutes: number, rate: number, bytes: number) {
  const kv = await Deno.openKv(path);
  const part = "x".repeat(Math.max(1, Math.floor(bytes / 5)));
  const started = performance.now();
  const end = started + minutes * 60_000;
  let nextSample = started + 15_000;
  let sent = 0;
  const pendingDeletes: { at: number; id: string }[] = [];
  while (performance.now() < end) {
    const due = Math.floor(((performance.now() - started) / 1000) * rate);
    const batch: Promise<unknown>[] = [];
    for (; sent < due; sent++) {
      const id = `m${sent}`;
      batch.push((async () => {
        for (let step = 0; step < 5; step++) {
          await kv.atomic().set(["rec", id, step], { step, part, at: Date.now() }).commit();
        }
      })());
      if (mode === "delete") pendingDeletes.push({ at: performance.now() + 2000, id });
    }
    while (pendingDeletes.length > 0 && pendingDeletes[0].at <= performance.now()) {
      const { id } = pendingDeletes.shift()!;
      const op = kv.atomic();
      for (let step = 0; step < 5; step++) op.delete(["rec", id, step]);
      batch.push(op.commit());
    }
    await Promise.all(batch);
    if (performance.now() >= nextSample) {
      nextSample += 15_000;
      console.log(JSON.stringify(
        {
          minute: (performance.now() - started) / 60_000,
          anon: (await kib("RssAnon")) / 1024,
          file: (await kib("RssFile")) / 1024,
          heap: Deno.memoryUsage().heapTotal / MIB,
          kv: await fileMiB(path),
        } satisfies Sample,
      ));
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  kv.close();
}

async function main(args: string[]): Promise<number> {
  const script = { script: "the KV memory benchmark" };
  const minutes = integerFlag(args, "minutes", 3, script);
  const rate = integerFlag(args, "rate", 500, script);
  const bytes = integerFlag(args, "bytes", 1100, script);
  const mode = flag(args, "child");
  if (mode) {
    await child(mode, flag(args, "path")!, minutes, rate, bytes);
    return 0;
  }
  const dir = await Deno.makeTempDir({ prefix: "wecom-kv-rss-" });
  const v8Flags = await startTaskV8Flags();
  const modes = ["keep", "delete"];
  try {
    const outputs = await Promise.all(modes.map((m) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--unstable-kv",
          ...(v8Flags ? [`--v8-flags=${v8Flags}`] : []),
          new URL(import.meta.url).pathname,
          `--child=${m}`,
          `--path=${dir}/${m}.sqlite3`,
          `--minutes=${minutes}`,
          `--rate=${rate}`,
          `--bytes=${bytes}`,
        ],
        stdout: "piped",
        stderr: "inherit",
      }).output()
    ));
    console.log(
      `Deno KV private memory against its file: ${rate} messages/s × 5 commits, ${bytes} bytes ` +
        `per message, ${minutes} min, two processes side by side\n`,
    );
    console.log(
      "| mode | minute | private MiB | private − V8 heap MiB | mapped files MiB | V8 heap MiB | KV file MiB |",
    );
    console.log("|---|--:|--:|--:|--:|--:|--:|");
    const slopes: string[] = [];
    modes.forEach((m, index) => {
      const samples = new TextDecoder().decode(outputs[index].stdout).trim().split("\n")
        .filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as Sample);
      for (const s of samples) {
        console.log(
          `| ${m} | ${fmt(s.minute)} | ${fmt(s.anon)} | ${fmt(s.anon - s.heap)} | ${
            fmt(s.file)
          } | ${fmt(s.heap)} | ${fmt(s.kv)} |`,
        );
      }
      const late = samples.filter((s) => s.minute >= 1);
      slopes.push(
        `${m}: private ${fmt(slope(late.map((s) => [s.minute, s.anon])))} MiB/min, outside the ` +
          `V8 heap ${fmt(slope(late.map((s) => [s.minute, s.anon - s.heap])))} MiB/min, file ${
            fmt(slope(late.map((s) => [s.minute, s.kv])))
          } MiB/min`,
      );
    });
    console.log(`\nSlopes after the first minute: ${slopes.join("; ")}`);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));

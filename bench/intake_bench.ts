/**
 * Micro-benchmarks of one callback's work inside the gateway, relative to a
 * trivial step (building the empty `200` response) as the baseline:
 *
 * - `decode`: parseEnvelope + signature check + decryption + parseMessage of a
 *   typical short text callback (and of a 4 KB CJK one);
 * - `handler`: the whole in-process callback handler (query, body, decode,
 *   intake with its one KV commit, 200) on a `:memory:` KV and on a KV file,
 *   and the intake step alone, one callback at a time;
 * - `burst`: 32 intakes at once on a KV file, one commit each (the baseline)
 *   or grouped (`./group_commit.ts`): the per-burst time divided by 32 is the
 *   cost of one durable callback under concurrency.
 *
 * Every iteration records distinct messages (distinct MsgId), so every one is
 * a real commit. Over HTTP, with a separate client, see `bench/load.ts`.
 *
 * The per-callback crypto alone is in `bench/crypto_bench.ts`.
 *
 * Run: `deno bench --unstable-kv -A bench/intake_bench.ts`
 *
 * @module
 */

import type { AccessConfig } from "../src/config/types.ts";
import { importAppCrypto, verifyAndDecrypt } from "../src/crypto/mod.ts";
import { createCallbackHandler, prepareApps } from "../src/http/callback.ts";
import type { InboundMessage } from "../src/records/message.ts";
import { parseEnvelope, parseMessage } from "../src/intake/parse.ts";
import { createIntake } from "../src/intake/record.ts";
import { setLogSink } from "../src/log.ts";
import { benchApps, type BenchCallback, sealCallbacks } from "./lib/callbacks.ts";

// One info line per callback would be measured (and flood the output); production runs at warn.
setLogSink({ format: "human", level: "warn", write: (line) => console.error(line) });

const ITERATIONS = 2000;
const WARMUP = 200;
const URL_BASE = "http://127.0.0.1/wecom/callback";
const ACCESS: AccessConfig = {
  allowAll: true,
  allowedUsers: [],
  refusalNoticeSeconds: 0,
  refusalNoticeText: "",
};

const [app] = benchApps(1);
const appCrypto = await importAppCrypto(app.encodingAesKey, app.token, app.corpId);
const [prepared] = await prepareApps([app]);

/** Distinct callbacks, sizes cycling short / 1 KB / 4 KB CJK. */
async function distinct(count: number): Promise<BenchCallback[]> {
  return await sealCallbacks([app], count);
}

function signedParts(callback: BenchCallback) {
  const query = new URLSearchParams(callback.query);
  return {
    signature: query.get("msg_signature")!,
    timestamp: query.get("timestamp")!,
    nonce: query.get("nonce")!,
  };
}

const sample = await distinct(3);
const shortText = sample.find((c) => c.size === "short")!;
const cjk = sample.find((c) => c.size === "4k-cjk")!;

async function decode(callback: BenchCallback): Promise<InboundMessage> {
  const envelope = parseEnvelope(callback.body);
  const opened = await verifyAndDecrypt(appCrypto, {
    ...signedParts(callback),
    ciphertext: envelope.encrypt,
  });
  return parseMessage(opened.message);
}

Deno.bench({
  name: "baseline: new Response(null, 200)",
  group: "decode",
  baseline: true,
  fn() {
    new Response(null, { status: 200 });
  },
});

Deno.bench({
  name: "decode short text (envelope + verify + decrypt + parseMessage)",
  group: "decode",
  async fn() {
    await decode(shortText);
  },
});

Deno.bench({
  name: "decode 4 KB CJK text",
  group: "decode",
  async fn() {
    await decode(cjk);
  },
});

/** A handler over a fresh KV at `path`; each call takes the next distinct callback. */
async function handlerBench(path: string) {
  const kv = await Deno.openKv(path);
  const intake = createIntake({ kv, access: ACCESS });
  const handler = createCallbackHandler({
    apps: [prepared],
    replayWindowSeconds: 300,
    intake,
  });
  const callbacks = await distinct(ITERATIONS + WARMUP);
  let next = 0;
  return {
    kv,
    async run() {
      const callback = callbacks[next++];
      const url = new URL(`${URL_BASE}?${callback.query}`);
      const request = new Request(url, { method: "POST", body: callback.body });
      const response = await handler(request, url, [prepared]);
      if (response.status !== 200) {
        throw new Error(`Cannot benchmark the handler: it answered ${response.status}`);
      }
    },
  };
}

const memory = await handlerBench(":memory:");
const dir = await Deno.makeTempDir({ prefix: "intake-bench-" });
const file = await handlerBench(`${dir}/kv.sqlite3`);

Deno.bench({
  name: "baseline: new Response(null, 200)",
  group: "handler",
  baseline: true,
  fn() {
    new Response(null, { status: 200 });
  },
});

Deno.bench({
  name: "full handler, :memory: KV (one commit)",
  group: "handler",
  n: ITERATIONS,
  warmup: WARMUP,
  fn: memory.run,
});

Deno.bench({
  name: "full handler, KV file (one durable commit)",
  group: "handler",
  n: ITERATIONS,
  warmup: WARMUP,
  fn: file.run,
});

// The intake alone (dedupe marker + job record + wake-up in one commit) on :memory:.
const intakeKv = await Deno.openKv(":memory:");
const intakeOnly = createIntake({ kv: intakeKv, access: ACCESS });
const decoded = await Promise.all(
  (await distinct(ITERATIONS + WARMUP)).map(async (c) => ({ message: await decode(c), c })),
);
let nextDecoded = 0;
Deno.bench({
  name: "intake only (one KV commit), :memory:",
  group: "handler",
  n: ITERATIONS,
  warmup: WARMUP,
  async fn() {
    const { message } = decoded[nextDecoded++];
    await intakeOnly(app, message, "");
  },
});

// 32 intakes at once on a KV file, as under load: one commit each, or grouped.
const BURST = 32;
const BURSTS = 100;
const BURST_WARMUP = 10;
async function burstBench(groupCommit: boolean, name: string) {
  const kv = await Deno.openKv(`${dir}/${name}.sqlite3`);
  const intake = createIntake({ kv, access: ACCESS, groupCommit });
  const ready = await Promise.all((await distinct(BURST * (BURSTS + BURST_WARMUP))).map(decode));
  let next = 0;
  return {
    kv,
    async run() {
      const burst = ready.slice(next, next + BURST);
      next += BURST;
      await Promise.all(burst.map((message) => intake(app, message, "")));
    },
  };
}
const single = await burstBench(false, "single");
const grouped = await burstBench(true, "grouped");

Deno.bench({
  name: "32 concurrent intakes, KV file, one commit each",
  group: "burst",
  baseline: true,
  n: BURSTS,
  warmup: BURST_WARMUP,
  fn: single.run,
});

Deno.bench({
  name: "32 concurrent intakes, KV file, group commit",
  group: "burst",
  n: BURSTS,
  warmup: BURST_WARMUP,
  fn: grouped.run,
});

globalThis.addEventListener("unload", () => {
  memory.kv.close();
  file.kv.close();
  intakeKv.close();
  single.kv.close();
  grouped.kv.close();
  Deno.removeSync(dir, { recursive: true });
});

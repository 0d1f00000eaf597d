/**
 * Where a callback's CPU goes: main-thread (JavaScript) CPU time per callback
 * of each step of the intake, in process, paced at a fixed rate the way
 * callbacks arrive (so the event loop idles between them, as in production),
 * against a baseline in the same run: the pacing alone.
 *
 * Wall-clock micro-benchmarks (`deno bench`) time one step with the event
 * loop kept busy; under real traffic the event loop sleeps between callbacks,
 * and every hand-off to another thread (each WebCrypto call runs on a
 * blocking thread, each KV commit on the SQLite thread) wakes it again. This
 * measures that cost: CPU seconds of each thread of this process (from
 * `/proc/<pid>/task`), divided by the callbacks.
 *
 * Steps, each over `--count` distinct callbacks at `--rate` per second:
 * pacing only (the baseline); XML (envelope + message parse); SHA-1
 * signature; AES decryption (one WebCrypto call), and as it was done before
 * (two calls: a one-block encrypt, then the decrypt); signature + decryption
 * (as the handler runs them), and the same on `node:crypto` for comparison
 * only (the gateway uses WebCrypto alone); the callback handler with an intake that stores nothing; the intake
 * alone on a KV file (group commit); the handler with the intake on a KV file
 * (everything but HTTP).
 *
 * Run: `deno task bench:cpu [--rate 2500] [--count 4000]`
 *
 * @module
 */

import { threadCpuSeconds } from "./lib/server_process.ts";
import { Buffer } from "node:buffer";
import { createDecipheriv, createHash } from "node:crypto";
import type { AccessConfig } from "../src/config/types.ts";
import {
  decodeBase64,
  importAppCrypto,
  verifyAndDecrypt,
  verifySignature,
} from "../src/crypto/mod.ts";
import { decrypt } from "../src/crypto/msg_crypt.ts";
import { createCallbackHandler, prepareApps } from "../src/http/callback.ts";
import { parseQuery } from "../src/http/query.ts";
import type { InboundMessage } from "../src/records/message.ts";
import { parseEnvelope, parseMessage } from "../src/intake/parse.ts";
import { createIntake } from "../src/intake/record.ts";
import { setLogSink } from "../src/log.ts";
import { integerFlag } from "./lib/args.ts";
import { benchApps, type BenchCallback, sealCallbacks } from "./lib/callbacks.ts";
import { fmt } from "./lib/report.ts";

setLogSink({ format: "human", level: "warn", write: (line) => console.error(line) });

const ACCESS: AccessConfig = {
  allowAll: true,
  allowedUsers: [],
  refusalNoticeSeconds: 0,
  refusalNoticeText: "",
};
const URL_BASE = "http://127.0.0.1/wecom/callback";
const encoder = new TextEncoder();

/** CPU seconds of each thread of this process, by thread name (the main thread is "main"). */
function threadCpu(): Promise<Map<string, number>> {
  return threadCpuSeconds(Deno.pid);
}

interface StepResult {
  name: string;
  /** µs of CPU per callback, by thread name. */
  perThread: Map<string, number>;
}

/** Runs `step(i)` for i in 0..count-1, one every 1/rate s (not waiting for the previous one). */
async function paced(
  name: string,
  count: number,
  rate: number,
  step: (i: number) => Promise<unknown> | unknown,
): Promise<StepResult> {
  const before = await threadCpu();
  const started = performance.now();
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait >= 1) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(Promise.resolve(step(i)));
  }
  await Promise.all(pending);
  const after = await threadCpu();
  const perThread = new Map<string, number>();
  for (const [thread, seconds] of after) {
    perThread.set(thread, ((seconds - (before.get(thread) ?? 0)) / count) * 1e6);
  }
  return { name, perThread };
}

async function main(args: string[]): Promise<void> {
  const rate = integerFlag(args, "rate", 2500, { script: "the breakdown" });
  const count = integerFlag(args, "count", 4000, { script: "the breakdown" });
  const [app] = benchApps(1);
  const appCrypto = await importAppCrypto(app.encodingAesKey, app.token, app.corpId);
  const [prepared] = await prepareApps([app]);
  // Every step gets its own distinct callbacks (distinct MsgId: every intake commits).
  const batch = async () =>
    (await sealCallbacks([app], count)).map((c) => ({ ...c, bytes: encoder.encode(c.body) }));
  const parts = (callback: BenchCallback) => {
    const query = parseQuery(`?${callback.query}`);
    return {
      signature: query.get("msg_signature")!,
      timestamp: query.get("timestamp")!,
      nonce: query.get("nonce")!,
      ciphertext: parseEnvelope(callback.body).encrypt,
    };
  };
  const dir = await Deno.makeTempDir({ prefix: "cpu-breakdown-" });
  const results: StepResult[] = [];
  try {
    // Warm the JIT on every path first, so that no step pays for compiling another.
    const warm = await sealCallbacks([app], 300);
    const warmKv = await Deno.openKv(`${dir}/warm.sqlite3`);
    const warmHandler = createCallbackHandler({
      apps: [prepared],
      replayWindowSeconds: 3600,
      intake: createIntake({ kv: warmKv, access: ACCESS }),
    });
    for (const callback of warm) {
      const url = new URL(`${URL_BASE}?${callback.query}`);
      await warmHandler(new Request(url, { method: "POST", body: callback.body }), url, [prepared]);
      const p = parts(callback);
      await verifySignature(appCrypto.token, p.timestamp, p.nonce, p.ciphertext, p.signature);
      await decrypt(appCrypto, p.ciphertext);
    }
    warmKv.close();

    results.push(await paced("pacing only (baseline)", count, rate, () => {}));

    let callbacks = await batch();
    const plaintexts = await Promise.all(
      callbacks.map(async (c) => (await decrypt(appCrypto, parts(c).ciphertext)).message),
    );
    results.push(
      await paced("XML: envelope + message", count, rate, (i) => {
        parseEnvelope(callbacks[i].body);
        return parseMessage(plaintexts[i]);
      }),
    );
    const signed = callbacks.map(parts);
    results.push(
      await paced("SHA-1 signature (1 WebCrypto call)", count, rate, (i) => {
        const p = signed[i];
        return verifySignature(appCrypto.token, p.timestamp, p.nonce, p.ciphertext, p.signature);
      }),
    );
    results.push(
      await paced(
        "AES decryption (1 WebCrypto call)",
        count,
        rate,
        (i) => decrypt(appCrypto, signed[i].ciphertext),
      ),
    );
    // The decryption of session 1, for comparison: a per-message AES-CBC encrypt of one block
    // (the block for subtle.decrypt to strip) before the decrypt.
    const padBlock = new Uint8Array(16).fill(16);
    results.push(
      await paced("AES decryption, two calls (before)", count, rate, async (i) => {
        const ciphertext = decodeBase64(signed[i].ciphertext, 16);
        const n = ciphertext.length;
        const tail = await crypto.subtle.encrypt(
          { name: "AES-CBC", iv: ciphertext.subarray(n - 16) },
          appCrypto.key,
          padBlock,
        );
        const extended = new Uint8Array(ciphertext.buffer, ciphertext.byteOffset, n + 16);
        extended.set(new Uint8Array(tail, 0, 16), n);
        return await crypto.subtle.decrypt(
          { name: "AES-CBC", iv: appCrypto.iv },
          appCrypto.key,
          extended,
        );
      }),
    );
    results.push(
      await paced(
        "signature + decryption (verifyAndDecrypt)",
        count,
        rate,
        (i) => verifyAndDecrypt(appCrypto, signed[i]),
      ),
    );
    // For comparison only: the same two steps on node:crypto, which is synchronous (no hand-off to
    // another thread). The gateway uses WebCrypto alone; this row is what that rule costs.
    const rawKey = Buffer.from(app.encodingAesKey + "=", "base64");
    results.push(
      await paced("signature + decryption on node:crypto (not used)", count, rate, (i) => {
        const p = signed[i];
        const digest = createHash("sha1")
          .update([appCrypto.token, p.timestamp, p.nonce, p.ciphertext].sort().join(""))
          .digest("hex");
        if (digest !== p.signature) throw new Error("Cannot compare: the signature differs");
        const decipher = createDecipheriv("aes-256-cbc", rawKey, rawKey.subarray(0, 16));
        decipher.setAutoPadding(false);
        return Buffer.concat([decipher.update(p.ciphertext, "base64"), decipher.final()]);
      }),
    );

    const handlerOver = (intake: Parameters<typeof createCallbackHandler>[0]["intake"]) => {
      const handler = createCallbackHandler({
        apps: [prepared],
        replayWindowSeconds: 3600,
        intake,
      });
      return async (callback: BenchCallback & { bytes?: Uint8Array<ArrayBuffer> }) => {
        const url = new URL(`${URL_BASE}?${callback.query}`);
        // With its Content-Length, as WeCom (and Deno.serve) give it.
        const body = callback.bytes ??= encoder.encode(callback.body) as Uint8Array<ArrayBuffer>;
        const headers = { "content-length": String(body.length) };
        const response = await handler(
          new Request(url, { method: "POST", body, headers }),
          url,
          [prepared],
        );
        if (response.status !== 200) {
          throw new Error(`Cannot measure the handler: it answered ${response.status}`);
        }
      };
    };
    callbacks = await batch();
    const noStore = handlerOver((_app, message: InboundMessage) =>
      Promise.resolve({ outcome: "recorded", conversation: `${message.corpId}:${message.userId}` })
    );
    results.push(
      await paced("handler, intake storing nothing", count, rate, (i) => noStore(callbacks[i])),
    );

    const intakeKv = await Deno.openKv(`${dir}/intake.sqlite3`);
    const intake = createIntake({ kv: intakeKv, access: ACCESS });
    callbacks = await batch();
    const messages = await Promise.all(callbacks.map(async (c) => {
      const opened = await decrypt(appCrypto, parts(c).ciphertext);
      return parseMessage(opened.message);
    }));
    results.push(
      await paced(
        "intake alone, KV file (group commit)",
        count,
        rate,
        (i) => intake(app, messages[i], ""),
      ),
    );
    intakeKv.close();

    const fullKv = await Deno.openKv(`${dir}/full.sqlite3`);
    const full = handlerOver(createIntake({ kv: fullKv, access: ACCESS }));
    callbacks = await batch();
    results.push(
      await paced("handler + intake, KV file", count, rate, (i) => full(callbacks[i])),
    );
    fullKv.close();
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }

  const threads = [...new Set(results.flatMap((r) => [...r.perThread.keys()]))]
    .filter((t) => results.some((r) => (r.perThread.get(t) ?? 0) >= 1));
  const base = results[0].perThread.get("main") ?? 0;
  console.log(
    `\nCPU per callback in µs, ${count} callbacks per step at ${rate}/s, one process ` +
      `(deno ${Deno.version.deno}); main = the JavaScript thread. Resolution: ` +
      `${fmt(1e6 / 100 / count, 1)} µs (clock ticks of 10 ms).\n`,
  );
  console.log(
    `| step | ${threads.join(" | ")} | main minus baseline |\n|---|${
      threads.map(() => "--:").join("|")
    }|--:|`,
  );
  for (const r of results) {
    const cells = threads.map((t) => fmt(r.perThread.get(t) ?? 0, 1));
    const main = r.perThread.get("main") ?? 0;
    console.log(
      `| ${r.name} | ${cells.join(" | ")} | ${r === results[0] ? "" : fmt(main - base, 1)} |`,
    );
  }
}

if (import.meta.main) await main(Deno.args);

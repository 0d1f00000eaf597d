/**
 * Fuzzing the callback endpoint with more than 10 000 generated bad inputs:
 * random bytes and text, XML soups, truncated and mutated envelopes, deep
 * nesting, many elements, huge fields, entity and CDATA tricks, broken base64
 * and validly signed ciphertexts with garbage inside, broken query strings,
 * oversize and slow bodies, and other methods.
 *
 * Every case must get a status of the contract (200 only as the duplicate of
 * a message already recorded, 400, 403, 405, 408, 413), never a thrown error,
 * a 500, a new job or any write to KV, and be answered within a time bound.
 * Valid sealed messages (the control group) are sent between the categories
 * and must each become one job, so a gateway that refused everything would
 * fail. Most cases go through the router's handler in process; a few hundred,
 * with oversize, truncated and slow bodies, go over a real socket; a broken
 * KV must give the documented 503 for valid messages only.
 *
 * Reproduce a failure with the seed it prints: `FUZZ_SEED=<seed> deno test
 * --unstable-kv -A tests/fuzz/callback_fuzz_test.ts` (`FUZZ_SEED=random`
 * explores new inputs).
 *
 * @module
 */

import assert from "node:assert/strict";
import type { AppConfig } from "../../src/config/types.ts";
import { computeSignature, encrypt, importAppCrypto } from "../../src/crypto/mod.ts";
import { createCallbackHandler, prepareApps } from "../../src/http/callback.ts";
import { createRouter } from "../../src/http/router.ts";
import { startCallbackServer } from "../../src/http/server.ts";
import { defaultHttpConfig } from "../../src/config/validate_http.ts";
import { createIntake } from "../../src/intake/record.ts";
import { countJobs } from "../../src/records/job_store/mod.ts";
import { setLogSink } from "../../src/log.ts";
import { textMessage } from "../../src/simulator/seal.ts";
import { testConfig } from "../fakes/config.ts";
import * as gen from "./lib/generate.ts";
import {
  type CaseWorld,
  type Control,
  envelope,
  type FuzzApp,
  type FuzzCase,
  MAX_BODY,
  NOW_S,
  PATH,
  TS,
} from "./lib/callback_case.ts";
import {
  appConfirmationCases,
  badBase64Cases,
  documentCases,
  garbagePlaintextCases,
  hugeFieldCases,
  manyElementCases,
  methodAndGetCases,
  mutatedEnvelopes,
  nestingCases,
  oversizeCases,
  queryCases,
  randomBodies,
  signedSoups,
  streamOf,
  truncationCases,
} from "./lib/callback_cases.ts";
import { measured } from "../lib/measured.ts";

const SEED = gen.seedFromEnv();
const SEED_TEXT = `0x${SEED.toString(16)}`;
/** Statuses of the callback contract (503 only with a broken KV, tested apart). */
const CONTRACT = new Set([200, 400, 403, 405, 408, 413]);
/** No case but the deliberately slow ones may take longer than this, ms. */
const CASE_TIME_LIMIT_MS = 1500;
const BODY_TIMEOUT_MS = 250;

// Keep the output readable; remember every line to check that no secret reaches a log.
const logLines: string[] = [];
setLogSink({ format: "json", level: "warn", write: (line) => logLines.push(line) });

// ---------------------------------------------------------------------------------------------
// The world: three apps on the shared path, KV in memory, the router's handler

interface World extends CaseWorld {
  apps: FuzzApp[];
  kv: Deno.Kv;
  handler: (request: Request) => Promise<Response>;
  /** Recorded controls by `app:msgId`. */
  controls: Map<string, Control>;
  /** Messages the intake recorded that were not controls (each one is a bug). */
  strayJobs: string[];
  intakeCalls: number;
  violations: string[];
  cases: number;
  /** Answers by category: status, and `signature` for refusals of the signature. */
  tally: Record<string, Record<string, number>>;
  close(): void;
}

function fuzzApps(rng: gen.Rng): AppConfig[] {
  return Array.from({ length: 3 }, (_, i) => ({
    name: `fuzz-${i + 1}`,
    corpId: "ww" + rng.string(16, "abcdefghijklmnopqrstuvwxyz0123456789"),
    corpSecret: rng.string(43, gen.ALNUM),
    agentId: String(1000002 + i),
    token: rng.string(32, gen.ALNUM),
    encodingAesKey: rng.string(43, gen.ALNUM),
    apiBase: "http://127.0.0.1:9",
  }));
}

async function createWorld(options: { brokenKv?: boolean } = {}): Promise<World> {
  const configs = fuzzApps(gen.createRng(SEED).fork("apps"));
  const config = await testConfig(configs);
  const kv = await Deno.openKv(":memory:");
  let store = kv;
  if (options.brokenKv) {
    store = await Deno.openKv(":memory:");
    store.close();
  }
  const record = createIntake({ kv: store, access: config.access });
  const prepared = await prepareApps(configs);
  const world: World = {
    apps: await Promise.all(configs.map(async (c) => ({
      config: c,
      crypto: await importAppCrypto(c.encodingAesKey, c.token, c.corpId),
    }))),
    kv,
    handler: () => Promise.reject(new Error("not ready")),
    controls: new Map(),
    strayJobs: [],
    intakeCalls: 0,
    violations: [],
    cases: 0,
    tally: {},
    close: () => kv.close(),
  };
  const callback = createCallbackHandler({
    apps: prepared,
    replayWindowSeconds: 300,
    now: () => NOW_S * 1000,
    bodyTimeoutMs: BODY_TIMEOUT_MS,
    maxBodyBytes: MAX_BODY,
    intake: async (app, message, plaintext) => {
      world.intakeCalls++;
      const result = await record(app, message, plaintext);
      const msgId = "msgId" in message ? String(message.msgId) : "";
      if (result.outcome === "recorded" && !world.controls.has(`${app.name}:${msgId}`)) {
        world.strayJobs.push(`${app.name} MsgId ${msgId.slice(0, 40)} (${message.type})`);
      }
      return result;
    },
  });
  world.handler = createRouter({ path: PATH, apps: prepared, callback });
  return world;
}

/** Every key and versionstamp in KV: any write by a fuzz case changes it. */
async function snapshot(kv: Deno.Kv): Promise<string> {
  const parts: string[] = [];
  for await (const entry of kv.list({ prefix: [] })) {
    parts.push(JSON.stringify(entry.key) + "@" + entry.versionstamp);
  }
  return parts.join("\n");
}

let msgCounter = 0;

/** Seals a new valid text message (deterministic for the seed). */
async function newControl(world: World, rng: gen.Rng, content?: string): Promise<Control> {
  const app = rng.pick(world.apps);
  const msgId = String(7_000_000_000_000_000_000n + BigInt(++msgCounter));
  const plaintext = textMessage({
    corpId: app.config.corpId,
    agentId: app.config.agentId,
    userId: `user${rng.int(40)}`,
    content: content ?? `control ${msgCounter} ${gen.randomUnicode(rng, 20)}`,
    msgId,
    createTime: NOW_S,
  });
  const ciphertext = await encrypt(app.crypto, plaintext, rng.bytes(16));
  const nonce = String(rng.int(1_000_000_000));
  const signature = await computeSignature(app.config.token, TS, nonce, ciphertext);
  return {
    app,
    msgId,
    plaintext,
    encrypt: ciphertext,
    nonce,
    query: `msg_signature=${signature}&timestamp=${TS}&nonce=${nonce}`,
    body: envelope(ciphertext, app),
  };
}

/** Sends `count` new valid messages; each must be acknowledged and become one job. */
async function sendControls(world: World, rng: gen.Rng, count: number): Promise<Control[]> {
  const sent: Control[] = [];
  for (let i = 0; i < count; i++) {
    const control = await newControl(world, rng);
    world.controls.set(`${control.app.config.name}:${control.msgId}`, control);
    const path = rng.chance(0.5) ? PATH : `${PATH}/${control.app.config.name}`;
    const response = await world.handler(
      new Request(`http://gw.test${path}?${control.query}`, {
        method: "POST",
        body: control.body,
      }),
    );
    await response.body?.cancel();
    if (response.status !== 200) {
      world.violations.push(`control ${control.msgId}: status ${response.status}, expected 200`);
    }
    sent.push(control);
  }
  const jobs = await countJobs(world.kv);
  assert.equal(jobs.queued, world.controls.size, `seed ${SEED_TEXT}: one job per control message`);
  return sent;
}

// ---------------------------------------------------------------------------------------------
// Cases

function describe(c: FuzzCase): string {
  const body = typeof c.body === "string"
    ? JSON.stringify(c.body.slice(0, 80)) + (c.body.length > 80 ? `… (${c.body.length})` : "")
    : c.body instanceof Uint8Array
    ? `${c.body.length} bytes`
    : c.body
    ? "stream"
    : "none";
  return `[${c.category}] ${c.label} ${c.method ?? "POST"} ?${
    (c.query ?? "").slice(0, 80)
  } body ${body}`;
}

function checkStatus(world: World, c: FuzzCase, status: number, ms: number): void {
  const allowed = c.expect ??
    [...CONTRACT].filter((s) => s !== 200 || c.duplicateOk || c.method === "GET");
  if (!allowed.includes(status)) {
    world.violations.push(`status ${status} (allowed ${allowed.join("/")}): ${describe(c)}`);
  }
  if (!c.slow && ms > CASE_TIME_LIMIT_MS) {
    world.violations.push(`took ${ms.toFixed(0)} ms: ${describe(c)}`);
  }
}

function requestFor(c: FuzzCase, base = "http://gw.test"): Request {
  const body = typeof c.body === "function" ? c.body() : c.body;
  return new Request(`${base}${c.path ?? PATH}?${c.query ?? ""}`, {
    method: c.method ?? "POST",
    body: c.method === "GET" || c.method === "HEAD" ? null : body,
    headers: c.headers,
  });
}

/** Runs `cases` through the in-process handler, `concurrency` at a time. */
async function runCases(world: World, cases: FuzzCase[], concurrency = 16): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++];
      world.cases++;
      const began = performance.now();
      try {
        const response = await world.handler(requestFor(c));
        const text = await response.text();
        checkStatus(world, c, response.status, performance.now() - began);
        const tally = world.tally[c.category] ??= {};
        const key = text.startsWith("The signature does not match") ? "signature" : response.status;
        tally[key] = (tally[key] ?? 0) + 1;
      } catch (error) {
        world.violations.push(`threw ${(error as Error)?.stack ?? error}: ${describe(c)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Runs one category and checks that it wrote nothing to KV and created no job. */
async function category(
  world: World,
  name: string,
  make: () => FuzzCase[] | Promise<FuzzCase[]>,
): Promise<number> {
  const before = await snapshot(world.kv);
  const cases = await make();
  for (const c of cases) c.category = name;
  await runCases(world, cases);
  const after = await snapshot(world.kv);
  if (after !== before) world.violations.push(`[${name}] KV changed during the category`);
  return cases.length;
}

function report(world: World, what: string): string {
  const lines = [
    `${what}: ${world.violations.length} violation(s), ${world.strayJobs.length} stray job(s) ` +
    `in ${world.cases} cases; reproduce with FUZZ_SEED=${SEED_TEXT}`,
    ...world.violations.slice(0, 25),
    ...world.strayJobs.slice(0, 10).map((j) => `stray job: ${j}`),
  ];
  return lines.join("\n");
}

function checkLogs(world: World): void {
  const secrets = world.apps.flatMap((a) => [a.config.token, a.config.encodingAesKey]);
  for (const line of logLines) {
    if (line.includes("failed unexpectedly")) world.violations.push(`log: ${line.slice(0, 300)}`);
    if (secrets.some((s) => line.includes(s))) {
      world.violations.push(`a secret reached the log: ${line.slice(0, 80)}…`);
    }
  }
  logLines.length = 0;
}

// ---------------------------------------------------------------------------------------------

Deno.test("fuzz: over 10 000 bad callbacks in process give contract statuses, no job, no KV write", async () => {
  const began = performance.now();
  const world = await createWorld();
  const root = gen.createRng(SEED);
  try {
    const controls = await sendControls(world, root.fork("controls-1"), 12);
    const counts: Record<string, number> = {};
    const run = async (name: string, make: () => FuzzCase[] | Promise<FuzzCase[]>) => {
      counts[name] = await category(world, name, make);
      // Between categories: new valid messages must still be recorded.
      await sendControls(world, root.fork(`controls-after-${name}`), 2);
    };
    await run("random bodies", () => randomBodies(world, root.fork("random"), 5000));
    await run("signed soups", () => signedSoups(world, root.fork("soups"), 600));
    await run("mutated", () => mutatedEnvelopes(world, root.fork("mutated"), controls, 1200));
    await run("truncated", () => truncationCases(root.fork("truncated"), controls));
    await run("nesting", () => nestingCases(root.fork("nesting"), controls[3]));
    await run("many elements", () => manyElementCases(controls[4]));
    await run("huge fields", () => hugeFieldCases(root.fork("huge"), controls[5]));
    await run("documents", () => documentCases(controls));
    await run("bad base64", () => badBase64Cases(root.fork("base64"), controls, 45));
    const garbage = await garbagePlaintextCases(world, root.fork("garbage"), 36);
    await run("garbage plaintext", () => garbage.out);
    await run("query", () => queryCases(world, root.fork("query"), controls, 400));
    await run("app confirmation", () => appConfirmationCases(world, root.fork("app"), controls));
    await run("oversize", () => oversizeCases(controls[6]));
    await run("methods and GET", () => methodAndGetCases(world, root.fork("get"), controls));

    // The raw-built valid messages: the garbage builder itself yields recordable messages.
    for (const { control } of garbage.valid) {
      world.controls.set(`${control.app.config.name}:${control.msgId}`, control);
    }
    await runCases(world, garbage.valid.map((v) => v.fuzzCase));
    const jobs = await countJobs(world.kv);
    assert.equal(jobs.queued, world.controls.size, `seed ${SEED_TEXT}: one job per control`);

    // The signed categories get past the signature and fail later (base64, AES, padding, XML).
    for (const name of ["bad base64", "garbage plaintext", "truncated"]) {
      assert.equal(
        world.tally[name].signature ?? 0,
        0,
        `${name}: ${JSON.stringify(world.tally[name])}`,
      );
    }
    assert.ok(world.tally["bad base64"][400] > 0 && world.tally["bad base64"][403] > 0);
    assert.ok(
      world.tally["garbage plaintext"][400] > 0 && world.tally["garbage plaintext"][403] > 0,
    );
    // Variations of valid envelopes that are still valid are acknowledged as duplicates.
    assert.ok(world.tally.documents[200] > 0 && world.tally.mutated[200] > 0);

    checkLogs(world);
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const seconds = (performance.now() - began) / 1000;
    measured(
      `callback fuzz (seed ${SEED_TEXT}): ${total} bad inputs + ${world.controls.size} controls ` +
        `in ${seconds.toFixed(1)} s; ${JSON.stringify(counts)}`,
    );
    assert.ok(total >= 10_000, `only ${total} cases were generated`);
    assert.deepEqual(world.strayJobs, [], report(world, "in process"));
    assert.deepEqual(world.violations, [], report(world, "in process"));
  } finally {
    world.close();
  }
});

Deno.test("fuzz: with KV broken, valid messages get the documented 503 and bad ones never reach it", async () => {
  const world = await createWorld({ brokenKv: true });
  const rng = gen.createRng(SEED).fork("broken-kv");
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const control = await newControl(world, rng);
      const response = await world.handler(
        new Request(`http://gw.test${PATH}?${control.query}`, {
          method: "POST",
          body: control.body,
        }),
      );
      await response.body?.cancel();
      statuses.push(response.status);
    }
    assert.deepEqual(statuses, Array(8).fill(503), `seed ${SEED_TEXT}`);
    assert.equal(world.intakeCalls, 8);
    // Bad inputs stop before the store: no 503 and no intake call.
    const controls = await Promise.all(Array.from({ length: 6 }, () => newControl(world, rng)));
    const cases = [
      ...randomBodies(world, rng, 150),
      ...(await truncationCases(rng, controls)).filter((_, i) => i % 5 === 0),
      ...(await badBase64Cases(rng, controls, 2)).map((c) => ({ ...c, duplicateOk: false })),
      ...(await garbagePlaintextCases(world, rng, 3)).out,
    ];
    for (const c of cases) c.category = "broken KV";
    await runCases(world, cases);
    assert.equal(world.intakeCalls, 8, `seed ${SEED_TEXT}: a bad input reached the store`);
    checkLogs(world);
    assert.deepEqual(world.violations, [], report(world, "broken KV"));
  } finally {
    world.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Over a real socket

interface RawResult {
  status: number;
  text: string;
}

/** Writes `parts` (with `pauseMs` between them) to a fresh connection and reads the answer. */
async function raw(
  port: number,
  parts: (string | Uint8Array)[],
  options: { pauseMs?: number; closeWrite?: boolean; readMs?: number } = {},
): Promise<RawResult> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const encoder = new TextEncoder();
  let text = "";
  const timer = setTimeout(() => conn.close(), options.readMs ?? 3000);
  try {
    for (const part of parts) {
      await conn.write(typeof part === "string" ? encoder.encode(part) : part).catch(() => 0);
      if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
    }
    if (options.closeWrite) await conn.closeWrite().catch(() => {});
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) break;
      text += new TextDecoder().decode(buffer.subarray(0, n));
      if (/\r\n\r\n/.test(text) && /content-length: 0|\r\n\r\n[^]*\n$/i.test(text)) break;
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  return { status: match ? Number(match[1]) : 0, text };
}

Deno.test("fuzz: a few hundred bad callbacks over a real socket, with oversize, truncated and slow bodies", async () => {
  const began = performance.now();
  const world = await createWorld();
  const rng = gen.createRng(SEED).fork("socket");
  const serverErrors: string[] = [];
  const observed: number[] = [];
  const handler = world.handler;
  // The gateway's own server: the bounded front before Deno.serve, with the default bounds.
  const server = await startCallbackServer({
    hostname: "127.0.0.1",
    port: 0,
    limits: defaultHttpConfig(),
    onError: (error) => {
      serverErrors.push(String((error as Error)?.stack ?? error));
      return new Response("Internal error.\n", { status: 500 });
    },
    handler: async (request) => {
      const response = await handler(request);
      if (new URL(request.url).pathname.startsWith(PATH)) observed.push(response.status);
      return response;
    },
  });
  const port = server.addr.port;
  const base = `http://127.0.0.1:${port}`;
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 8 });
  try {
    const controls = await sendControls(world, rng.fork("controls"), 8);
    const snapshotBefore = await snapshot(world.kv);
    const cases: FuzzCase[] = [
      ...randomBodies(world, rng, 160),
      ...mutatedEnvelopes(world, rng, controls, 40),
      ...(await truncationCases(rng, controls)).filter((_, i) => i % 25 === 0),
      ...(await badBase64Cases(rng, controls, 1)),
      ...(await garbagePlaintextCases(world, rng, 1)).out,
      ...(await queryCases(world, rng, controls, 0)).slice(0, 37),
      ...(await methodAndGetCases(world, rng, controls)).filter((_, i) => i % 4 === 0)
        .filter((c) => c.method !== "M-SEARCH" && c.method !== "HEAD"),
    ];
    let next = 0;
    const caller = async () => {
      while (next < cases.length) {
        const c = cases[next++];
        c.category ||= "socket";
        world.cases++;
        const started = performance.now();
        try {
          const body = typeof c.body === "function" ? c.body() : c.body;
          const response = await fetch(`${base}${c.path ?? PATH}?${c.query ?? ""}`, {
            method: c.method ?? "POST",
            body: c.method === "GET" ? null : body,
            headers: c.headers,
            client,
          });
          await response.arrayBuffer();
          checkStatus(world, c, response.status, performance.now() - started);
        } catch (error) {
          world.violations.push(`fetch failed (${(error as Error).message}): ${describe(c)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, caller));

    // Oversize bodies: the answer is 413 (the client may see the connection close first).
    const control = controls[0];
    const oversize = [
      () => " ".repeat(70 * 1024),
      () =>
        streamOf(function* () {
          for (let i = 0; i < 256; i++) yield new Uint8Array(4096).fill(0x41);
        })(),
    ];
    for (const body of oversize) {
      world.cases++;
      const response = await fetch(`${base}${PATH}?${control.query}`, {
        method: "POST",
        body: body(),
        client,
      }).catch(() => null);
      if (response) {
        await response.body?.cancel();
        if (response.status !== 413) world.violations.push(`oversize: status ${response.status}`);
      }
    }

    // Raw connections: truncated, slow, malformed and smuggled requests.
    const head = (length: number | string, extra = "") =>
      `POST ${PATH}?${control.query} HTTP/1.1\r\nHost: gw\r\nContent-Length: ${length}\r\n${extra}\r\n`;
    const rawCases: { label: string; run: () => Promise<RawResult>; expect: number[] }[] = [
      {
        label: "declared 70000, no body",
        run: () => raw(port, [head(70_000)]),
        expect: [413],
      },
      {
        label: "100 of 1000 bytes, then silence",
        run: () => raw(port, [head(1000), control.body.slice(0, 100)]),
        expect: [408],
      },
      {
        label: "100 of 1000 bytes, then EOF",
        run: () => raw(port, [head(1000), control.body.slice(0, 100)], { closeWrite: true }),
        expect: [0, 400],
      },
      {
        label: "bad chunk size",
        run: () =>
          raw(port, [
            `POST ${PATH}?${control.query} HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`,
          ]),
        expect: [0, 400],
      },
      {
        label: "chunks of 1 byte every 60 ms",
        run: () =>
          raw(port, [
            `POST ${PATH}?${control.query} HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n`,
            ...[...control.body.slice(0, 12)].map((ch) => `1\r\n${ch}\r\n`),
          ], { pauseMs: 60 }),
        expect: [0, 408],
      },
      {
        label: "chunked 200 KB",
        run: () =>
          raw(port, [
            `POST ${PATH}?${control.query} HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n`,
            ...Array.from({ length: 50 }, () => `1000\r\n${"A".repeat(4096)}\r\n`),
          ]),
        expect: [0, 413],
      },
      {
        label: "Content-Length and Transfer-Encoding",
        run: () =>
          raw(port, [
            `POST ${PATH}?${control.query} HTTP/1.1\r\nHost: gw\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
          ]),
        expect: [0, 400, 403],
      },
      {
        label: "two Content-Lengths",
        run: () => raw(port, [head(5, "Content-Length: 7\r\n"), "hello"]),
        expect: [0, 400],
      },
      {
        label: "garbage request line",
        run: () => raw(port, ["\u0000\u0001GARBAGE / HTTP/9.9\r\n\r\n"]),
        expect: [0, 400],
      },
      {
        label: "100 KB header",
        run: () => raw(port, [head(0, `X-Big: ${"x".repeat(100_000)}\r\n`)]),
        expect: [0, 400, 431],
      },
      {
        label: "request line only, then EOF",
        run: () => raw(port, [`POST ${PATH} HTTP/1.1\r\n`], { closeWrite: true }),
        expect: [0, 400],
      },
      {
        label: "HTTP/1.0 without Host",
        run: () =>
          raw(port, [
            `POST ${PATH}?${control.query} HTTP/1.0\r\nContent-Length: ${control.body.length}\r\n\r\n${control.body}`,
          ]),
        expect: [0, 200, 400],
      },
      {
        label: "pipelined: garbage then a duplicate",
        run: () =>
          raw(port, [
            head(5) + "hello" + head(new TextEncoder().encode(control.body).length) + control.body,
          ]),
        expect: [400],
      },
    ];
    for (const c of rawCases) {
      world.cases++;
      const result = await c.run();
      if (!c.expect.includes(result.status)) {
        world.violations.push(
          `raw ${c.label}: status ${result.status} (allowed ${c.expect.join("/")}): ${
            result.text.slice(0, 120)
          }`,
        );
      }
    }

    // Still serving, no handler error, no job, no write.
    const health = await fetch(`${base}/health`, { client });
    assert.equal(health.status, 200);
    await health.body?.cancel();
    assert.equal(await snapshot(world.kv), snapshotBefore, `seed ${SEED_TEXT}: KV changed`);
    await sendControls(world, rng.fork("controls-end"), 2);
    for (const status of observed) {
      if (!CONTRACT.has(status)) world.violations.push(`server answered ${status}`);
    }
    checkLogs(world);
    assert.deepEqual(serverErrors, [], `seed ${SEED_TEXT}: the server's onError ran`);
    assert.deepEqual(world.strayJobs, [], report(world, "socket"));
    assert.deepEqual(world.violations, [], report(world, "socket"));
    measured(
      `socket fuzz (seed ${SEED_TEXT}): ${world.cases} cases in ${
        ((performance.now() - began) / 1000).toFixed(1)
      } s`,
    );
  } finally {
    client.close();
    await server.shutdown();
    world.close();
  }
});

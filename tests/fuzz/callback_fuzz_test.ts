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

import { deepEqual, equal, ok } from "node:assert/strict";
import type { AppConfig } from "../../src/config/types.ts";
import {
  type AppCrypto,
  computeSignature,
  encrypt,
  importAppCrypto,
} from "../../src/crypto/mod.ts";
import { createCallbackHandler, prepareApps } from "../../src/http/callback.ts";
import { createRouter } from "../../src/http/router.ts";
import { startCallbackServer } from "../../src/http/server.ts";
import { defaultHttpConfig } from "../../src/config/validate_http.ts";
import { parseEnvelope } from "../../src/intake/parse.ts";
import { createIntake } from "../../src/intake/record.ts";
import { countJobs } from "../../src/records/job_store/mod.ts";
import { setLogSink } from "../../src/log.ts";
import { textMessage } from "../../src/simulator/seal.ts";
import { testConfig } from "../fakes/config.ts";
import * as gen from "./lib/generate.ts";
import { measured } from "../lib/measured.ts";

const SEED = gen.seedFromEnv();
const SEED_TEXT = `0x${SEED.toString(16)}`;
const PATH = "/wecom/callback";
const NOW_S = 1_750_000_000;
const TS = String(NOW_S);
/** Statuses of the callback contract (503 only with a broken KV, tested apart). */
const CONTRACT = new Set([200, 400, 403, 405, 408, 413]);
/** No case but the deliberately slow ones may take longer than this, ms. */
const CASE_TIME_LIMIT_MS = 1500;
const BODY_TIMEOUT_MS = 250;
const MAX_BODY = 64 * 1024;

// Keep the output readable; remember every line to check that no secret reaches a log.
const logLines: string[] = [];
setLogSink({ format: "json", level: "warn", write: (line) => logLines.push(line) });

// ---------------------------------------------------------------------------------------------
// The world: three apps on the shared path, KV in memory, the router's handler

interface FuzzApp {
  config: AppConfig;
  crypto: AppCrypto;
}

interface Control {
  app: FuzzApp;
  msgId: string;
  plaintext: string;
  encrypt: string;
  nonce: string;
  query: string;
  body: string;
}

interface World {
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

function envelope(encryptText: string, app?: FuzzApp): string {
  const inner = encryptText.includes("]]>")
    ? encryptText.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    : `<![CDATA[${encryptText}]]>`;
  const to = app ? `<ToUserName><![CDATA[${app.config.corpId}]]></ToUserName>` : "";
  const agent = app ? `<AgentID><![CDATA[${app.config.agentId}]]></AgentID>` : "";
  return `<xml>${to}<Encrypt>${inner}</Encrypt>${agent}</xml>`;
}

/** A query with a valid signature of `app` over `payload` (as the gateway will read it). */
async function signedQuery(
  app: FuzzApp,
  payload: string,
  rng: gen.Rng,
  timestamp = TS,
): Promise<string> {
  const nonce = String(rng.int(1_000_000_000));
  const signature = await computeSignature(app.config.token, timestamp, nonce, payload);
  return `msg_signature=${signature}&timestamp=${timestamp}&nonce=${nonce}`;
}

/** A well-formed query whose signature matches nothing. */
function randomQuery(rng: gen.Rng): string {
  return `msg_signature=${rng.string(40, "0123456789abcdef")}&timestamp=${TS}&nonce=${
    rng.int(1e9)
  }`;
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
  equal(jobs.queued, world.controls.size, `seed ${SEED_TEXT}: one job per control message`);
  return sent;
}

// ---------------------------------------------------------------------------------------------
// Cases

type Body = string | Uint8Array<ArrayBuffer> | (() => ReadableStream<Uint8Array>) | null;

interface FuzzCase {
  category: string;
  label: string;
  method?: string;
  /** Path and query; default the shared path with a well-formed but wrong signature. */
  path?: string;
  query?: string;
  body?: Body;
  headers?: Record<string, string>;
  /** The only statuses this case may get. */
  expect?: number[];
  /** A variation of a recorded control: may be acknowledged as its duplicate. */
  duplicateOk?: boolean;
  /** Deliberately slow (waits for the body deadline): exempt from the time bound. */
  slow?: boolean;
}

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

const pickPath = (world: World, rng: gen.Rng) =>
  rng.chance(0.7) ? PATH : `${PATH}/${rng.pick(world.apps).config.name}`;

// --- generators of cases ------------------------------------------------------------------------

function randomBodies(world: World, rng: gen.Rng, count: number): FuzzCase[] {
  const out: FuzzCase[] = [];
  for (let i = 0; i < count; i++) {
    const kind = i % 4;
    const body = kind === 0
      ? gen.randomBytes(rng, 4096)
      : kind === 1
      ? gen.randomPrintable(rng, 4096)
      : kind === 2
      ? gen.randomUnicode(rng, 1024)
      : gen.xmlSoup(rng, 60);
    out.push({
      category: "",
      label: ["bytes", "printable", "unicode", "soup"][kind],
      path: pickPath(world, rng),
      query: rng.chance(0.9) ? randomQuery(rng) : gen.randomPrintable(rng, 200),
      body,
    });
  }
  return out;
}

/** XML soups whose Encrypt (when there is one) carries a valid signature: they reach decryption. */
async function signedSoups(world: World, rng: gen.Rng, count: number): Promise<FuzzCase[]> {
  const out: FuzzCase[] = [];
  for (let i = 0; i < count; i++) {
    const soup = gen.xmlSoup(rng, 40);
    const body = rng.chance(0.5)
      ? soup
      : `<xml><Encrypt>${
        gen.randomPrintable(rng, 200).replaceAll("<", "").replaceAll("&", "")
      }</Encrypt>${soup}</xml>`;
    let query = randomQuery(rng);
    try {
      query = await signedQuery(rng.pick(world.apps), parseEnvelope(body).encrypt, rng);
    } catch {
      // not an envelope: it stops before the signature anyway
    }
    out.push({ category: "", label: "signed soup", query, body });
  }
  return out;
}

function mutatedEnvelopes(
  world: World,
  rng: gen.Rng,
  controls: Control[],
  count: number,
): FuzzCase[] {
  const out: FuzzCase[] = [];
  for (let i = 0; i < count; i++) {
    const c = rng.pick(controls);
    const mutateQuery = rng.chance(0.25);
    out.push({
      category: "",
      label: mutateQuery ? "mutated query" : "mutated envelope",
      path: pickPath(world, rng),
      query: mutateQuery ? gen.mutate(rng, c.query) : c.query,
      body: mutateQuery ? c.body : gen.mutate(rng, c.body),
      duplicateOk: true,
    });
  }
  return out;
}

async function truncationCases(rng: gen.Rng, controls: Control[]) {
  const out: FuzzCase[] = [];
  for (const c of controls.slice(0, 2)) {
    for (const prefix of gen.truncations(c.body)) {
      out.push({
        category: "",
        label: `envelope[0:${prefix.length}]`,
        query: c.query,
        body: prefix,
      });
    }
  }
  const c = controls[2];
  for (const prefix of gen.truncations(c.encrypt)) {
    out.push({
      category: "",
      label: `Encrypt[0:${prefix.length}] re-signed`,
      query: await signedQuery(c.app, prefix.trim(), rng),
      body: envelope(prefix, c.app),
    });
  }
  // The plaintext cut at every other length, properly encrypted and signed.
  for (const prefix of gen.truncations(c.plaintext, 2)) {
    const ciphertext = await encrypt(c.app.crypto, prefix, rng.bytes(16));
    out.push({
      category: "",
      label: `plaintext[0:${prefix.length}] sealed`,
      query: await signedQuery(c.app, ciphertext, rng),
      body: envelope(ciphertext, c.app),
    });
  }
  return out;
}

function nestingCases(rng: gen.Rng, control: Control): FuzzCase[] {
  const depths = [
    ...Array.from({ length: 20 }, (_, i) => i + 1),
    32,
    64,
    100,
    128,
    256,
    500,
    1000,
    2000,
    5000,
    10_000,
    ...Array.from({ length: 30 }, () => rng.between(1, 10_000)),
  ];
  const out: FuzzCase[] = [];
  for (const depth of depths) {
    for (const style of ["closed", "unclosed", "self-closing", "mismatched"] as const) {
      out.push({
        category: "",
        label: `depth ${depth} ${style}`,
        query: control.query,
        body: gen.nestedXml(depth, style),
      });
    }
    // A valid Encrypt next to the nesting: acceptable up to the depth limit (as a duplicate).
    out.push({
      category: "",
      label: `depth ${depth} beside a valid Encrypt`,
      query: control.query,
      body: gen.nestedXml(depth).replace("<xml>", `<xml><Encrypt>${control.encrypt}</Encrypt>`),
      duplicateOk: true,
    });
  }
  return out;
}

function manyElementCases(control: Control): FuzzCase[] {
  const out: FuzzCase[] = [];
  for (const count of [1, 10, 100, 1000, 1998, 1999, 2000, 2001, 5000, 20_000]) {
    for (const selfClosing of [false, true]) {
      for (const encrypted of [false, true]) {
        out.push({
          category: "",
          label: `${count} ${selfClosing ? "<Item/>" : "<Item>"}${encrypted ? " + Encrypt" : ""}`,
          query: control.query,
          body: gen.manyElements(count, encrypted ? control.encrypt : "", selfClosing),
          duplicateOk: encrypted,
        });
      }
    }
  }
  return out;
}

async function hugeFieldCases(rng: gen.Rng, control: Control) {
  const KB = 1024;
  const out: FuzzCase[] = [];
  const add = (label: string, body: string, extra: Partial<FuzzCase> = {}) =>
    out.push({ category: "", label, query: control.query, body, ...extra });
  add("60 KB Encrypt of 'A'", gen.hugeField("Encrypt", 60 * KB));
  const aaaa = "A".repeat(60 * KB);
  add("60 KB Encrypt, signed", envelope(aaaa), {
    query: await signedQuery(control.app, aaaa, rng),
  });
  const noise = rng.bytes(44 * KB).toBase64();
  add("60 KB random base64 Encrypt, signed", envelope(noise), {
    query: await signedQuery(control.app, noise, rng),
  });
  for (const field of ["ToUserName", "AgentID", "Other"]) {
    add(
      `60 KB ${field} + valid Encrypt`,
      gen.hugeField(field, 60 * KB, { encrypt: control.encrypt }),
      {
        duplicateOk: true,
      },
    );
    add(
      `60 KB ${field} CDATA + valid Encrypt`,
      gen.hugeField(field, 60 * KB, {
        encrypt: control.encrypt,
        cdata: true,
      }),
      { duplicateOk: true },
    );
    add(
      `20 K CJK ${field} + valid Encrypt`,
      gen.hugeField(field, 20_000, {
        encrypt: control.encrypt,
        fill: "中",
      }),
      { duplicateOk: true },
    );
  }
  const fill = (size: number) => control.body + " ".repeat(size - control.body.length);
  add("64 KiB exactly (valid, padded with spaces)", fill(MAX_BODY), {
    expect: [200],
    duplicateOk: true,
  });
  add("64 KiB + 1", fill(MAX_BODY + 1), { expect: [413] });
  add("1 MiB", fill(1024 * KB), { expect: [413] });
  add(
    "60 KB comment + valid Encrypt",
    control.body.replace("<xml>", `<xml><!--${"x".repeat(60 * KB)}-->`),
    {
      duplicateOk: true,
    },
  );
  const name = "N".repeat(28_000);
  add("long-named parent of 1990 children", `<xml><${name}>${"<a/>".repeat(1990)}</${name}></xml>`);
  // Validly sealed plaintexts that are huge but garbage.
  const app = control.app;
  for (const garbage of [gen.randomPrintable(rng, 0) + "x".repeat(44 * KB), "中".repeat(15_000)]) {
    const ciphertext = await encrypt(app.crypto, garbage, rng.bytes(16));
    add(`${garbage.length}-character garbage plaintext, sealed`, envelope(ciphertext, app), {
      query: await signedQuery(app, ciphertext, rng),
    });
  }
  // Validly sealed messages that could never be recorded (fields too long for KV).
  const parts = {
    corpId: app.config.corpId,
    agentId: app.config.agentId,
    userId: "lisi",
    createTime: NOW_S,
  };
  const unrecordable = [
    { label: "MsgId of 3000 digits", xml: gen.messageXml({ ...parts, msgId: "9".repeat(3000) }) },
    { label: "FromUserName of 3000", xml: gen.messageXml({ ...parts, userId: "u".repeat(3000) }) },
    {
      label: "40 K ASCII + 1 CJK content (80 KB as UTF-16)",
      xml: gen.messageXml({ ...parts, msgId: "1", content: "a".repeat(40_000) + "中" }),
      expect: [413],
    },
  ];
  for (const { label, xml, expect } of unrecordable) {
    const ciphertext = await encrypt(app.crypto, xml, rng.bytes(16));
    add(label, envelope(ciphertext, app), {
      query: await signedQuery(app, ciphertext, rng),
      expect: expect ?? [400],
    });
  }
  return out;
}

function documentCases(controls: Control[]): FuzzCase[] {
  const out: FuzzCase[] = [];
  for (const control of controls.slice(0, 3)) {
    const documents = [
      ...gen.entityDocuments(control.encrypt).map((d) => ["entity", d]),
      ...gen.cdataDocuments(control.encrypt).map((d) => ["cdata", d]),
      ...gen.structureDocuments(control.encrypt).map((d) => ["structure", d]),
    ];
    for (const [kind, body] of documents) {
      for (const path of [PATH, `${PATH}/${control.app.config.name}`]) {
        out.push({
          category: "",
          label: kind,
          path,
          query: control.query,
          body,
          duplicateOk: true,
        });
      }
    }
  }
  return out;
}

async function badBase64Cases(rng: gen.Rng, controls: Control[], rounds: number) {
  const out: FuzzCase[] = [];
  for (let round = 0; round < rounds; round++) {
    const control = controls[round % controls.length];
    for (const variant of gen.badBase64(rng, control.encrypt)) {
      if (variant.value.trim() === control.encrypt) continue;
      out.push({
        category: "",
        label: variant.label,
        path: rng.chance(0.5) ? PATH : `${PATH}/${control.app.config.name}`,
        query: await signedQuery(control.app, variant.value.trim(), rng),
        body: envelope(variant.value, control.app),
        // Any variant that still decodes to the control's bytes can only be its duplicate.
        duplicateOk: true,
      });
    }
  }
  return out;
}

async function garbagePlaintextCases(world: World, rng: gen.Rng, rounds: number) {
  const out: FuzzCase[] = [];
  const valid: { fuzzCase: FuzzCase; control: Control }[] = [];
  for (let round = 0; round < rounds; round++) {
    const app = world.apps[round % world.apps.length];
    const other = world.apps[(round + 1) % world.apps.length];
    const corpId = app.config.corpId;
    const parts: gen.MessageParts = {
      corpId,
      agentId: app.config.agentId,
      userId: `garbage${round}`,
      msgId: String(8_000_000_000_000_000_000n + BigInt(round)),
      createTime: NOW_S,
    };
    const message = gen.messageXml(parts);
    const layouts: { label: string; bytes: Uint8Array }[] = [];
    for (const garbage of gen.garbageMessages(rng, parts)) {
      const label = typeof garbage === "string"
        ? `message ${JSON.stringify(garbage.slice(0, 30))}`
        : `${garbage.length} random bytes`;
      layouts.push({ label, bytes: gen.wecomPlaintext({ message: garbage, receiveId: corpId }) });
    }
    for (const receiveId of gen.wrongReceiveIds(corpId, other.config.corpId)) {
      layouts.push({
        label: `receive id ${JSON.stringify(receiveId.slice(0, 30))}`,
        bytes: gen.wecomPlaintext({ message, receiveId }),
      });
    }
    const natural = gen.wecomPlaintext({ message, receiveId: corpId });
    const pad = natural[natural.length - 1];
    const broken: [string, Partial<gen.LayoutOptions>][] = [
      ["pad bytes 0", { padByte: 0 }],
      ["pad bytes 33", { padByte: 33 }],
      ["pad bytes 255", { padByte: 255 }],
      [`pad bytes ${pad + 1} for ${pad}`, { padByte: pad + 1 }],
      [`pad bytes ${pad - 1} for ${pad}`, { padByte: pad - 1 }],
      ["last pad byte changed", { corruptPadAt: 0 }],
      ["first pad byte changed", { corruptPadAt: pad - 1 }],
      ["no padding", { noPad: true }],
      ["msg_len 0xffffffff", { msgLen: 0xffffffff }],
      ["msg_len one too long", { msgLen: new TextEncoder().encode(message).length + 1 }],
      ["msg_len one too short", { msgLen: new TextEncoder().encode(message).length - 1 }],
      ["msg_len 0", { msgLen: 0 }],
      ["16-byte padding, last byte changed", { padTo: 16, corruptPadAt: 0 }],
    ];
    for (const [label, options] of broken) {
      layouts.push({
        label,
        bytes: gen.wecomPlaintext({ message, receiveId: corpId, ...options }),
      });
    }
    layouts.push({ label: "one block of pad 32", bytes: new Uint8Array(32).fill(32) });
    layouts.push({ label: "pad covers the header", bytes: new Uint8Array(48).fill(30) });
    layouts.push({ label: "random blocks", bytes: rng.bytes(16 * rng.between(2, 64)) });
    for (const { label, bytes } of layouts) {
      const ciphertext = await gen.encryptRaw(app.config.encodingAesKey, bytes);
      out.push({
        category: "",
        label,
        path: rng.chance(0.5) ? PATH : `${PATH}/${app.config.name}`,
        query: await signedQuery(app, ciphertext, rng),
        body: envelope(ciphertext, app),
      });
    }
    // The same raw builder with nothing broken must give a message the gateway records.
    const control = gen.wecomPlaintext({ message, receiveId: corpId });
    const ciphertext = await gen.encryptRaw(app.config.encodingAesKey, control);
    const query = await signedQuery(app, ciphertext, rng);
    const body = envelope(ciphertext, app);
    valid.push({
      fuzzCase: {
        category: "",
        label: "raw-built valid message (control)",
        query,
        body,
        expect: [200],
      },
      control: {
        app,
        msgId: parts.msgId!,
        plaintext: message,
        encrypt: ciphertext,
        nonce: "",
        query,
        body,
      },
    });
  }
  return { out, valid };
}

/**
 * Valid controls whose unsigned parts name another app: the envelope's
 * `ToUserName`/`AgentID`, or a signed message whose AgentID is not its app's.
 * The app is confirmed from the signed message, so each is refused (403).
 */
async function appConfirmationCases(world: World, rng: gen.Rng, controls: Control[]) {
  const out: FuzzCase[] = [];
  for (const c of controls) {
    const other = rng.pick(world.apps.filter((a) => a !== c.app));
    out.push({
      category: "",
      label: `envelope naming ${other.config.name}`,
      query: c.query,
      body: envelope(c.encrypt, other),
      expect: [403],
    });
    out.push({
      category: "",
      label: `envelope with ${other.config.name}'s AgentID only`,
      query: c.query,
      body: envelope(c.encrypt, c.app).replace(
        `<AgentID><![CDATA[${c.app.config.agentId}]]>`,
        `<AgentID><![CDATA[${other.config.agentId}]]>`,
      ),
      expect: [403],
    });
    // Sealed by the control's app, but the signed message names another AgentID.
    const plaintext = c.plaintext.replace(
      `<AgentID>${c.app.config.agentId}</AgentID>`,
      `<AgentID>${other.config.agentId}</AgentID>`,
    );
    if (plaintext === c.plaintext) throw new Error("the control's AgentID was not found");
    const ciphertext = await encrypt(c.app.crypto, plaintext, rng.bytes(16));
    for (const withAgent of [true, false]) {
      const body = envelope(ciphertext, c.app);
      out.push({
        category: "",
        label: `signed AgentID of ${other.config.name}${withAgent ? "" : ", none in the envelope"}`,
        query: await signedQuery(c.app, ciphertext, rng),
        body: withAgent ? body : body.replace(/<AgentID>.*<\/AgentID>/, ""),
        expect: [403],
      });
    }
  }
  return out;
}

async function queryCases(world: World, rng: gen.Rng, controls: Control[], random: number) {
  const out: FuzzCase[] = [];
  for (const c of controls.slice(0, 3)) {
    const token = c.app.config.token;
    const sig = (timestamp: string, nonce: string) =>
      computeSignature(token, timestamp, nonce, c.encrypt);
    const good = await sig(TS, c.nonce);
    const q = (s: string, t: string, n: string) => `msg_signature=${s}&timestamp=${t}&nonce=${n}`;
    const variants: [string, string, number[]?][] = [
      ["no query", ""],
      ["no msg_signature", `timestamp=${TS}&nonce=${c.nonce}`, [400]],
      ["no timestamp", `msg_signature=${good}&nonce=${c.nonce}`, [400]],
      ["no nonce", `msg_signature=${good}&timestamp=${TS}`, [400]],
      ["empty msg_signature", q("", TS, c.nonce), [400]],
      ["empty timestamp", q(good, "", c.nonce), [400]],
      ["empty nonce", q(good, TS, ""), [403]],
      ["bad signature first", `msg_signature=${"0".repeat(40)}&${c.query}`, [403]],
      ["bad signature second", `${c.query}&msg_signature=${"0".repeat(40)}`],
      ["timestamp twice, stale first", `timestamp=1&${c.query}`, [403]],
      ["%zz in msg_signature", q(`%zz${good.slice(3)}`, TS, c.nonce), [400]],
      ["%E4%B8 in timestamp", q(good, `${TS}%E4%B8`, c.nonce), [400]],
      ["lone % in nonce", q(good, TS, "%"), [400]],
      ["%zz in nonce", q(good, TS, "%zz"), [400]],
      ["percent-encoded timestamp", q(good, [...TS].map((d) => `%3${d}`).join(""), c.nonce)],
      ["percent-encoded signature", q(encodeURIComponent(good).replace("a", "%61"), TS, c.nonce)],
      ["uppercase signature", q(good.toUpperCase(), TS, c.nonce), [403]],
      ["39-digit signature", q(good.slice(1), TS, c.nonce), [403]],
      ["41-digit signature", q(good + "0", TS, c.nonce), [403]],
      ["signature with spaces", q(` ${good}`, TS, c.nonce), [403]],
      ["timestamp abc", q(good, "abc", c.nonce), [400]],
      ["timestamp -1", q(good, "-1", c.nonce), [400]],
      ["timestamp 1.5", q(good, "1.5", c.nonce), [400]],
      ["timestamp 1e9", q(good, "1e9", c.nonce), [400]],
      ["timestamp of 13 digits", q(good, "1" + TS + "00", c.nonce), [400]],
      ["timestamp with +", q(good, `+${TS}`, c.nonce), [400]],
      ["timestamp 0", q(good, "0", c.nonce), [403]],
      [
        "stale timestamp, signed",
        q(await sig(String(NOW_S - 301), c.nonce), String(NOW_S - 301), c.nonce),
        [403],
      ],
      [
        "future timestamp, signed",
        q(await sig(String(NOW_S + 301), c.nonce), String(NOW_S + 301), c.nonce),
        [403],
      ],
      [
        "timestamp 299 s old, signed",
        q(await sig(String(NOW_S - 299), c.nonce), String(NOW_S - 299), c.nonce),
        [200],
      ],
      ["10 KB nonce, signed", q(await sig(TS, "7".repeat(10_000)), TS, "7".repeat(10_000)), [200]],
      ["unicode nonce, signed", q(await sig(TS, "随机"), TS, encodeURIComponent("随机")), [200]],
      [
        "signed by another app's token",
        await signedQuery(rng.pick(world.apps.filter((a) => a !== c.app)), c.encrypt, rng),
        [403],
      ],
      ["extra parameters", `${c.query}&echostr=x&a=%zz&&&=&b`],
      ["names without values", "msg_signature&timestamp&nonce", [400]],
      ["semicolons", c.query.replaceAll("&", ";"), [400]],
      ["fragment-like", `${c.query}%23x`],
    ];
    for (const [label, query, expect] of variants) {
      out.push({ category: "", label, query, body: c.body, expect, duplicateOk: true });
    }
  }
  for (let i = 0; i < random; i++) {
    const c = rng.pick(controls);
    const query = rng.chance(0.5) ? gen.randomPrintable(rng, 300) : gen.mutate(rng, c.query);
    out.push({ category: "", label: "random query", query, body: c.body, duplicateOk: true });
  }
  return out;
}

function streamOf(chunks: () => Iterator<Uint8Array>, delayMs = 0, fail = false) {
  return () => {
    const iterator = chunks();
    let timer: ReturnType<typeof setTimeout> | undefined;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (delayMs > 0) {
          await new Promise((resolve) => timer = setTimeout(resolve, delayMs));
        }
        const { done, value } = iterator.next();
        if (done) {
          if (fail) controller.error(new Error("the client went away"));
          else controller.close();
        } else controller.enqueue(value);
      },
      cancel() {
        clearTimeout(timer);
      },
    });
  };
}

function oversizeCases(control: Control): FuzzCase[] {
  const chunk = new Uint8Array(16 * 1024).fill(0x20);
  const forever = function* () {
    for (;;) yield chunk;
  };
  const bytes = new TextEncoder().encode(control.body);
  const base = { category: "", query: control.query };
  return [
    {
      ...base,
      label: "declared 10^9, small body",
      body: control.body,
      headers: { "content-length": "1000000000" },
      expect: [413],
    },
    {
      ...base,
      label: "declared 65537",
      body: control.body,
      headers: { "content-length": "65537" },
      expect: [413],
    },
    {
      ...base,
      label: "declared abc",
      body: control.body,
      headers: { "content-length": "abc" },
      expect: [200],
      duplicateOk: true,
    },
    {
      ...base,
      label: "declared -1",
      body: control.body,
      headers: { "content-length": "-1" },
      expect: [200],
      duplicateOk: true,
    },
    {
      ...base,
      label: "streamed 1 MiB",
      body: streamOf(function* () {
        for (let i = 0; i < 64; i++) yield chunk;
      }),
      expect: [413],
    },
    { ...base, label: "streamed forever", body: streamOf(forever), expect: [413] },
    {
      ...base,
      label: "streamed valid body in 1-byte chunks",
      body: streamOf(function* () {
        for (const byte of bytes) yield new Uint8Array([byte]);
      }),
      expect: [200],
      duplicateOk: true,
    },
    {
      ...base,
      label: "stream that fails midway",
      body: streamOf(
        function* () {
          yield bytes.subarray(0, 100);
        },
        0,
        true,
      ),
      expect: [400],
    },
    {
      ...base,
      label: "stream that never sends",
      body: () => new ReadableStream<Uint8Array>(),
      expect: [408],
      slow: true,
    },
    {
      ...base,
      label: "stream of one byte per 40 ms",
      body: streamOf(function* () {
        for (const byte of bytes) yield new Uint8Array([byte]);
      }, 40),
      expect: [408],
      slow: true,
    },
    {
      ...base,
      label: "invalid UTF-8",
      body: new Uint8Array([0x3c, 0x78, 0xff, 0xfe]),
      expect: [400],
    },
    {
      ...base,
      label: "UTF-16 body",
      body: new Uint8Array(new Uint16Array([...control.body].map((ch) => ch.charCodeAt(0))).buffer),
      expect: [400],
    },
    { ...base, label: "10 MiB string", body: " ".repeat(10 * 1024 * 1024), expect: [413] },
  ];
}

async function methodAndGetCases(world: World, rng: gen.Rng, controls: Control[]) {
  const out: FuzzCase[] = [];
  const paths = [PATH, `${PATH}/`, ...world.apps.map((a) => `${PATH}/${a.config.name}`)];
  for (const path of paths) {
    for (
      const method of ["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "PROPFIND", "FOO", "M-SEARCH"]
    ) {
      out.push({
        category: "",
        label: method,
        method,
        path,
        query: controls[0].query,
        body: method === "HEAD" ? null : controls[0].body,
        expect: [405],
      });
    }
  }
  // URL verification with bad input: random queries, bad base64 and garbage echostr, signed.
  for (let i = 0; i < 150; i++) {
    out.push({
      category: "",
      label: "GET random query",
      method: "GET",
      path: pickPath(world, rng),
      query: rng.chance(0.5)
        ? gen.randomPrintable(rng, 200)
        : `${randomQuery(rng)}&echostr=${encodeURIComponent(gen.randomPrintable(rng, 100))}`,
      expect: [400, 403],
    });
  }
  for (const control of controls.slice(0, 3)) {
    const echostr = await encrypt(control.app.crypto, "8120911541203950123", rng.bytes(16));
    for (const variant of gen.badBase64(rng, echostr)) {
      if (variant.value === echostr || variant.value === "") continue;
      const query = await signedQuery(control.app, variant.value, rng);
      out.push({
        category: "",
        label: `GET echostr ${variant.label}`,
        method: "GET",
        path: pickPath(world, rng),
        query: `${query}&echostr=${encodeURIComponent(variant.value)}`,
        expect: [400, 403],
      });
    }
    for (const garbage of [new Uint8Array(32).fill(32), rng.bytes(64)]) {
      const value = await gen.encryptRaw(control.app.config.encodingAesKey, garbage);
      out.push({
        category: "",
        label: "GET garbage echostr, signed",
        method: "GET",
        query: `${await signedQuery(control.app, value, rng)}&echostr=${encodeURIComponent(value)}`,
        expect: [403],
      });
    }
    // The control: a valid verification answers 200 (and creates nothing).
    out.push({
      category: "",
      label: "GET valid verification (control)",
      method: "GET",
      query: `${await signedQuery(control.app, echostr, rng)}&echostr=${
        encodeURIComponent(echostr)
      }`,
      expect: [200],
    });
  }
  return out;
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
    equal(jobs.queued, world.controls.size, `seed ${SEED_TEXT}: one job per control`);

    // The signed categories get past the signature and fail later (base64, AES, padding, XML).
    for (const name of ["bad base64", "garbage plaintext", "truncated"]) {
      equal(world.tally[name].signature ?? 0, 0, `${name}: ${JSON.stringify(world.tally[name])}`);
    }
    ok(world.tally["bad base64"][400] > 0 && world.tally["bad base64"][403] > 0);
    ok(world.tally["garbage plaintext"][400] > 0 && world.tally["garbage plaintext"][403] > 0);
    // Variations of valid envelopes that are still valid are acknowledged as duplicates.
    ok(world.tally.documents[200] > 0 && world.tally.mutated[200] > 0);

    checkLogs(world);
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const seconds = (performance.now() - began) / 1000;
    measured(
      `callback fuzz (seed ${SEED_TEXT}): ${total} bad inputs + ${world.controls.size} controls ` +
        `in ${seconds.toFixed(1)} s; ${JSON.stringify(counts)}`,
    );
    ok(total >= 10_000, `only ${total} cases were generated`);
    deepEqual(world.strayJobs, [], report(world, "in process"));
    deepEqual(world.violations, [], report(world, "in process"));
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
    deepEqual(statuses, Array(8).fill(503), `seed ${SEED_TEXT}`);
    equal(world.intakeCalls, 8);
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
    equal(world.intakeCalls, 8, `seed ${SEED_TEXT}: a bad input reached the store`);
    checkLogs(world);
    deepEqual(world.violations, [], report(world, "broken KV"));
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
    equal(health.status, 200);
    await health.body?.cancel();
    equal(await snapshot(world.kv), snapshotBefore, `seed ${SEED_TEXT}: KV changed`);
    await sendControls(world, rng.fork("controls-end"), 2);
    for (const status of observed) {
      if (!CONTRACT.has(status)) world.violations.push(`server answered ${status}`);
    }
    checkLogs(world);
    deepEqual(serverErrors, [], `seed ${SEED_TEXT}: the server's onError ran`);
    deepEqual(world.strayJobs, [], report(world, "socket"));
    deepEqual(world.violations, [], report(world, "socket"));
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

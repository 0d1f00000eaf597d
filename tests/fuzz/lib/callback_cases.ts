/**
 * The generators of the callback fuzz suite's cases, one function per
 * category: random bodies, signed XML soups, mutated and truncated envelopes,
 * nesting, many elements, huge fields, documents, broken base64, garbage
 * plaintexts, app confirmation, queries, oversize and slow bodies, methods.
 * Deterministic for a given seed.
 *
 * @example Usage
 * ```ts ignore
 * import { randomBodies } from "./callback_cases.ts";
 * const cases = randomBodies(world, gen.createRng(1), 100);
 * ```
 *
 * @module
 */

import { computeSignature, encrypt } from "../../../src/crypto/mod.ts";
import { parseEnvelope } from "../../../src/intake/parse.ts";
import {
  type CaseWorld,
  type Control,
  envelope,
  type FuzzCase,
  MAX_BODY,
  NOW_S,
  PATH,
  pickPath,
  randomQuery,
  signedQuery,
  TS,
} from "./callback_case.ts";
import * as gen from "./generate.ts";

/** Random bytes, printable and Unicode text and XML soups as bodies, with wrong signatures or random queries. */
export function randomBodies(world: CaseWorld, rng: gen.Rng, count: number): FuzzCase[] {
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
export async function signedSoups(
  world: CaseWorld,
  rng: gen.Rng,
  count: number,
): Promise<FuzzCase[]> {
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

/** Control envelopes with random mutations. */
export function mutatedEnvelopes(
  world: CaseWorld,
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

/** Control envelopes cut at every kind of place. */
export async function truncationCases(rng: gen.Rng, controls: Control[]) {
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

/** Deeply nested, unclosed and mismatched XML around a control. */
export function nestingCases(rng: gen.Rng, control: Control): FuzzCase[] {
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

/** Envelopes with very many elements. */
export function manyElementCases(control: Control): FuzzCase[] {
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

/** Fields of up to the body limit and beyond. */
export async function hugeFieldCases(rng: gen.Rng, control: Control) {
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

/** Entity, CDATA and structure tricks around the controls. */
export function documentCases(controls: Control[]): FuzzCase[] {
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

/** Validly signed `Encrypt` values that are not proper base64. */
export async function badBase64Cases(rng: gen.Rng, controls: Control[], rounds: number) {
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

/** Well-formed, validly signed ciphertexts with garbage inside (padding, length, receive id). */
export async function garbagePlaintextCases(world: CaseWorld, rng: gen.Rng, rounds: number) {
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
export async function appConfirmationCases(world: CaseWorld, rng: gen.Rng, controls: Control[]) {
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

/** Missing, empty, malformed, repeated, stale and future query parameters around controls' signatures. */
export async function queryCases(
  world: CaseWorld,
  rng: gen.Rng,
  controls: Control[],
  random: number,
) {
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

/** A body made on demand from `chunks`, optionally slow or failing midway. */
export function streamOf(chunks: () => Iterator<Uint8Array>, delayMs = 0, fail = false) {
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

/** Bodies over the limit or badly declared, endless, slow and failing streams, bad encodings. */
export function oversizeCases(control: Control): FuzzCase[] {
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

/** Other methods, and URL verification GETs with bad parameters. */
export async function methodAndGetCases(world: CaseWorld, rng: gen.Rng, controls: Control[]) {
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

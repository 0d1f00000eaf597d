import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createCipheriv, createDecipheriv } from "node:crypto";
import {
  Base64Error,
  decrypt,
  DecryptError,
  encrypt,
  importAppCrypto,
  LengthFieldError,
  MessageEncodingError,
  PaddingError,
  ReceiveIdError,
  WeComCryptoError,
} from "../../src/crypto/mod.ts";
import { appOf, byName, ciphertextOf, type Vector, vectors } from "./vectors.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);

// --- Independent reference: Node's AES-256-CBC without automatic padding. ---

function keyBytes(encodingAesKey: string): Buffer {
  return Buffer.from(encodingAesKey + "=", "base64");
}

/** Encrypts already-padded bytes (length a multiple of 16) exactly as given. */
function rawEncrypt(encodingAesKey: string, padded: Uint8Array): string {
  const key = keyBytes(encodingAesKey);
  const cipher = createCipheriv("aes-256-cbc", key, key.subarray(0, 16));
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(padded), cipher.final()]).toString("base64");
}

/** Decrypts without removing any padding. */
function rawDecrypt(encodingAesKey: string, base64: string): Uint8Array {
  const key = keyBytes(encodingAesKey);
  const decipher = createDecipheriv("aes-256-cbc", key, key.subarray(0, 16));
  decipher.setAutoPadding(false);
  const out = Buffer.concat([decipher.update(Buffer.from(base64, "base64")), decipher.final()]);
  return new Uint8Array(out);
}

/** `random ‖ msg_len ‖ msg ‖ receiveId` with an optional forged msg_len. */
function layout(msg: Uint8Array, receiveId: Uint8Array, msgLen = msg.length): Uint8Array {
  const out = new Uint8Array(20 + msg.length + receiveId.length);
  out.set(utf8("0123456789abcdef"), 0);
  new DataView(out.buffer).setUint32(16, msgLen);
  out.set(msg, 20);
  out.set(receiveId, 20 + msg.length);
  return out;
}

/** PKCS#7 to a multiple of 32, as WeCom does. */
function pad32(bytes: Uint8Array): Uint8Array {
  const pad = 32 - (bytes.length % 32);
  const out = new Uint8Array(bytes.length + pad);
  out.set(bytes);
  out.fill(pad, bytes.length);
  return out;
}

/** A deterministic PRNG (mulberry32), so failures reproduce. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function assertRejects<T extends WeComCryptoError>(
  promise: Promise<unknown>,
  type: new (...args: never[]) => T,
  pattern?: RegExp,
): Promise<T> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof type, `expected ${type.name}, got ${caught}`);
  if (pattern) assert.match(caught.message, pattern);
  return caught;
}

// --- Known answers ---

Deno.test("decrypt() recovers the exact plaintext and receive id of all four vectors", async () => {
  for (const v of vectors) {
    const result = await decrypt(await appOf(v), ciphertextOf(v));
    assert.equal(result.message, v.plaintext, v.name);
    assert.equal(result.receiveId, v.corp_id, v.name);
  }
});

Deno.test("the vectors cover pads above 16 (A2: 30, B2: 22), which WebCrypto alone refuses", async () => {
  for (const v of vectors) {
    const raw = rawDecrypt(v.encoding_aes_key, ciphertextOf(v));
    assert.equal(raw.at(-1), v.pad, v.name);
  }
  for (const v of [byName("A2"), byName("B2")]) {
    assert.ok(v.pad > 16);
    const app = await appOf(v);
    const naive = crypto.subtle.decrypt(
      { name: "AES-CBC", iv: app.iv },
      app.key,
      Buffer.from(ciphertextOf(v), "base64"),
    );
    await assert.rejects(naive, /OperationError|decrypt|pad/i);
    assert.equal((await decrypt(app, ciphertextOf(v))).message, v.plaintext);
  }
});

Deno.test("the decryption suffix is a zero block then AES(16 × 0x10) under the app's key", async () => {
  for (const v of vectors) {
    const app = await appOf(v);
    const ecb = createCipheriv("aes-256-ecb", keyBytes(v.encoding_aes_key), null);
    ecb.setAutoPadding(false);
    const expected = Buffer.concat([ecb.update(new Uint8Array(16).fill(16)), ecb.final()]);
    assert.deepEqual([...app.suffix.subarray(0, 16)], new Array(16).fill(0), v.name);
    assert.deepEqual([...app.suffix.subarray(16)], [...expected], v.name);
  }
});

Deno.test("decrypt() of every pad 1..32 equals a plain AES-CBC decryption without the suffix", async () => {
  const v = byName("A2");
  const app = await appOf(v);
  // 20-byte header + message + 18-byte receive id: 32 message lengths give every pad once.
  const pads = new Set<number>();
  for (let length = 100; length < 132; length++) {
    const message = "x".repeat(length);
    const ciphertext = await encrypt(app, message);
    const raw = rawDecrypt(v.encoding_aes_key, ciphertext);
    const pad = raw.at(-1)!;
    pads.add(pad);
    const opened = await decrypt(app, ciphertext);
    assert.equal(opened.message, message, `pad ${pad}`);
    assert.equal(new TextDecoder().decode(raw.subarray(20, 20 + length)), message);
  }
  assert.equal(pads.size, 32);
});

Deno.test("encrypt() with the recovered random prefix reproduces each ciphertext byte for byte", async () => {
  for (const v of vectors) {
    const ciphertext = await encrypt(await appOf(v), v.plaintext, utf8(v.random_ascii));
    assert.equal(ciphertext, ciphertextOf(v), v.name);
  }
});

Deno.test("decrypt() counts msg_len in UTF-8 bytes (B2 holds 你好)", async () => {
  const b2 = byName("B2");
  const raw = rawDecrypt(b2.encoding_aes_key, ciphertextOf(b2));
  assert.equal(new DataView(raw.buffer).getUint32(16), utf8(b2.plaintext).length);
  assert.notEqual(utf8(b2.plaintext).length, b2.plaintext.length);
  assert.match((await decrypt(await appOf(b2), ciphertextOf(b2))).message, /你好/);
});

// --- Round trips ---

Deno.test("encrypt() then decrypt() round-trips every length 0..200 with a correct 32-byte pad", async () => {
  const a = byName("A2");
  const app = await appOf(a);
  const next = prng(1);
  const padsSeen = new Set<number>();
  for (let length = 0; length <= 200; length++) {
    const message = Array.from({ length }, () => String.fromCharCode(32 + next() * 95)).join("");
    const ciphertext = await encrypt(app, message);
    assert.deepEqual(await decrypt(app, ciphertext), { message, receiveId: a.corp_id });

    const raw = rawDecrypt(a.encoding_aes_key, ciphertext);
    const unpadded = 20 + length + a.corp_id.length;
    const pad = 32 - (unpadded % 32);
    assert.equal(raw.length, unpadded + pad, `length ${length}`);
    assert.equal(raw.length % 32, 0);
    assert.deepEqual(raw.subarray(unpadded), new Uint8Array(pad).fill(pad));
    assert.equal(new DataView(raw.buffer).getUint32(16), length);
    assert.match(new TextDecoder().decode(raw.subarray(0, 16)), /^[0-9a-zA-Z]{16}$/);
    padsSeen.add(pad);
  }
  // An aligned input gets a full block of 32: every pad 1..32 occurred.
  assert.deepEqual(
    [...padsSeen].sort((x, y) => x - y),
    Array.from({ length: 32 }, (_, i) => i + 1),
  );
});

Deno.test("encrypt() then decrypt() round-trips Unicode up to 64 KiB, astral planes included", async () => {
  const b = byName("B2");
  const app = await appOf(b);
  const alphabet = [
    "a",
    "Z",
    "7",
    " ",
    "\n",
    "<",
    "&",
    "é",
    "ß",
    "中",
    "文",
    "😀",
    "𠀀",
    "🧧",
    "\0",
  ];
  const next = prng(2);
  for (const target of [1, 100, 2048, 4096, 30_000, 65_536]) {
    let message = "\uFEFF";
    while (utf8(message).length < target) {
      message += alphabet[Math.floor(next() * alphabet.length)].repeat(1 + next() * 20);
    }
    const ciphertext = await encrypt(app, message);
    const result = await decrypt(app, ciphertext);
    assert.equal(result.message, message, `target ${target}`);
    const raw = rawDecrypt(b.encoding_aes_key, ciphertext);
    assert.equal(new DataView(raw.buffer).getUint32(16), utf8(message).length);
  }
});

Deno.test("decrypt() keeps a leading byte-order mark and NUL characters", async () => {
  const app = await appOf(byName("A1"));
  for (const message of ["\uFEFF<xml/>", "\uFEFF", "a\0b", "\0"]) {
    assert.equal((await decrypt(app, await encrypt(app, message))).message, message);
  }
});

Deno.test("encrypt() and decrypt() work with an empty receive id (third-party personal apps)", async () => {
  const a = byName("A1");
  const app = await appOf(a, "");
  const ciphertext = await encrypt(app, "hi");
  assert.deepEqual(await decrypt(app, ciphertext), { message: "hi", receiveId: "" });
  await assertRejects(decrypt(await appOf(a), ciphertext), ReceiveIdError);
});

Deno.test("encrypt() uses a fresh [0-9a-zA-Z] random prefix by default", async () => {
  const a = byName("A1");
  const app = await appOf(a);
  const prefixes = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const raw = rawDecrypt(a.encoding_aes_key, await encrypt(app, "same message"));
    const prefix = new TextDecoder().decode(raw.subarray(0, 16));
    assert.match(prefix, /^[0-9a-zA-Z]{16}$/);
    prefixes.add(prefix);
  }
  assert.equal(prefixes.size, 20);
});

Deno.test("encrypt() refuses a random prefix that is not 16 bytes", async () => {
  const app = await appOf(byName("A1"));
  for (const length of [0, 15, 17, 32]) {
    await assert.rejects(
      encrypt(app, "x", new Uint8Array(length)),
      (err: unknown) =>
        err instanceof RangeError && err.message.includes(`current length is ${length}`),
    );
  }
});

// --- Malformed ciphertexts ---

Deno.test("decrypt() rejects non-canonical base64 with Base64Error", async () => {
  const a = byName("A2");
  const app = await appOf(a);
  const good = ciphertextOf(a);
  const bad = [
    good.slice(0, 60) + "\n" + good.slice(60, -1), // wrapped line (length kept)
    good.slice(0, 60) + " " + good.slice(61),
    good + "\r\n",
    good.replace("+", "-"),
    good.replace("/", "_"),
    good.replace("+", "%2B"),
    good.slice(0, -1), // wrong length
    good.slice(0, -2), // padding stripped
    good.slice(0, -3) + "R==", // non-zero trailing bits
  ];
  for (const text of bad) {
    await assertRejects(decrypt(app, text), Base64Error);
  }
});

Deno.test("decrypt() rejects ciphertexts that are not 16-byte blocks of at least 32 bytes", async () => {
  const app = await appOf(byName("A1"));
  for (const length of [0, 1, 15, 16, 31, 33, 40, 63]) {
    const text = Buffer.from(new Uint8Array(length)).toString("base64");
    await assertRejects(decrypt(app, text), DecryptError, new RegExp(`is ${length} bytes long`));
  }
});

Deno.test("decrypt() with another app's EncodingAESKey fails on the padding, never with a plaintext", async () => {
  const a2 = byName("A2");
  const b2 = byName("B2");
  const wrongKey = await importAppCrypto(b2.encoding_aes_key, a2.token, a2.corp_id);
  for (const v of [a2, byName("A1")]) {
    await assertRejects(decrypt(wrongKey, ciphertextOf(v)), PaddingError, /EncodingAESKey/);
  }
});

Deno.test("decrypt() rejects a pad byte of 0, 33 or 255 with PaddingError", async () => {
  const a = byName("A1");
  const app = await appOf(a);
  for (const last of [0, 33, 255]) {
    const padded = pad32(layout(utf8("hello"), utf8(a.corp_id)));
    padded[padded.length - 1] = last;
    await assertRejects(
      decrypt(app, rawEncrypt(a.encoding_aes_key, padded)),
      PaddingError,
      new RegExp(`pad byte is ${last}, outside 1\\.\\.32`),
    );
  }
});

Deno.test("decrypt() rejects pad bytes that are not all equal with PaddingError", async () => {
  const a = byName("A1");
  const app = await appOf(a);
  const base = pad32(layout(utf8("hello"), utf8(a.corp_id)));
  const pad = base.at(-1)!;
  assert.ok(pad > 16, `pick a message giving a pad over 16, got ${pad}`);
  // The first pad byte, one in the middle, the one before last, and the 16-byte boundary.
  for (const offset of [base.length - pad, base.length - 10, base.length - 2, base.length - 17]) {
    const padded = base.slice();
    padded[offset] ^= 1;
    await assertRejects(
      decrypt(app, rawEncrypt(a.encoding_aes_key, padded)),
      PaddingError,
      new RegExp(`last ${pad} bytes are not all equal`),
    );
  }
  // A 16-byte PKCS#7 tail that is valid for WebCrypto but not WeCom's real pad.
  const sixteen = base.slice();
  sixteen.fill(16, base.length - 16);
  await assertRejects(decrypt(app, rawEncrypt(a.encoding_aes_key, sixteen)), ReceiveIdError);
});

Deno.test("decrypt() accepts crafted pads of 1, 16, 17 and 32 bytes", async () => {
  const a = byName("A1");
  const app = await appOf(a);
  const rid = utf8(a.corp_id);
  for (const pad of [1, 16, 17, 32]) {
    const message = "m".repeat(96 - 20 - rid.length - pad);
    const padded = pad32(layout(utf8(message), rid));
    assert.equal(padded.at(-1), pad);
    const result = await decrypt(app, rawEncrypt(a.encoding_aes_key, padded));
    assert.equal(result.message, message);
  }
});

Deno.test("decrypt() rejects a msg_len beyond the buffer with LengthFieldError", async () => {
  const a = byName("A1");
  const app = await appOf(a);
  const msg = utf8("hello");
  const rid = utf8(a.corp_id);
  const available = msg.length + rid.length;
  for (const msgLen of [0xffffffff, 0x80000000, 65536, available + 1]) {
    const padded = pad32(layout(msg, rid, msgLen));
    await assertRejects(
      decrypt(app, rawEncrypt(a.encoding_aes_key, padded)),
      LengthFieldError,
      new RegExp(`msg_len is ${msgLen} but only ${available} bytes follow it`),
    );
  }
  // A msg_len that swallows the receive id leaves an empty one behind.
  const err = await assertRejects(
    decrypt(app, rawEncrypt(a.encoding_aes_key, pad32(layout(msg, rid, available)))),
    ReceiveIdError,
  );
  assert.equal(err.actualLength, 0);
});

Deno.test("decrypt() rejects a buffer too short for the random prefix and msg_len", async () => {
  const a = byName("A1");
  const app = await appOf(a);
  const allPad = new Uint8Array(32).fill(32);
  await assertRejects(
    decrypt(app, rawEncrypt(a.encoding_aes_key, allPad)),
    LengthFieldError,
    /only 0 bytes remain/,
  );
  const short = new Uint8Array(32).fill(13);
  await assertRejects(
    decrypt(app, rawEncrypt(a.encoding_aes_key, short)),
    LengthFieldError,
    /only 19 bytes remain/,
  );
});

Deno.test("decrypt() rejects a message for another corp with ReceiveIdError naming both ids", async () => {
  const a = byName("A2");
  const other = await appOf(a, "ww1436e0e65a779aee");
  const err = await assertRejects(
    decrypt(await appOf(a), await encrypt(other, "<xml/>")),
    ReceiveIdError,
    /'ww1436e0e65a779aee'.*'wx5823bf96d3bd56c7'/,
  );
  assert.equal(err.expected, "wx5823bf96d3bd56c7");
  assert.equal(err.actual, "ww1436e0e65a779aee");
  assert.equal(err.sdkCode, -40005);
  // A receive id that differs only by case or a suffix is refused too.
  for (const id of ["WX5823BF96D3BD56C7", "wx5823bf96d3bd56c7 ", "wx5823bf96d3bd56c", ""]) {
    const sealed = await encrypt(await appOf(a, id), "<xml/>");
    await assertRejects(decrypt(await appOf(a), sealed), ReceiveIdError);
  }
});

Deno.test("ReceiveIdError does not echo a garbled receive id, which may hold message text", async () => {
  const a = byName("A1");
  const app = await appOf(a);
  const secret = "private message text";
  // msg_len too small: the tail of the message is read as the receive id.
  const padded = pad32(layout(utf8(secret), utf8(a.corp_id), 3));
  const err = await assertRejects(
    decrypt(app, rawEncrypt(a.encoding_aes_key, padded)),
    ReceiveIdError,
  );
  assert.equal(err.actual, null);
  assert.ok(!err.message.includes("message text"));
  assert.equal(err.actualLength, utf8(secret).length - 3 + a.corp_id.length);
});

Deno.test("decrypt() rejects a message that is not valid UTF-8 with MessageEncodingError", async () => {
  const a = byName("A1");
  const app = await appOf(a);
  const rid = utf8(a.corp_id);
  const invalid = [
    [0xff, 0xfe],
    [0xc0, 0x80], // overlong NUL
    [0xed, 0xa0, 0x80], // a UTF-16 surrogate
    [0xe4, 0xbd], // truncated 你
    [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
  ];
  for (const bytes of invalid) {
    const padded = pad32(layout(new Uint8Array(bytes), rid));
    const err = await assertRejects(
      decrypt(app, rawEncrypt(a.encoding_aes_key, padded)),
      MessageEncodingError,
    );
    assert.equal(err.sdkCode, -40008);
  }
  // The receive id is checked first.
  const wrongId = pad32(layout(new Uint8Array([0xff]), utf8("ww1436e0e65a779aee")));
  await assertRejects(decrypt(app, rawEncrypt(a.encoding_aes_key, wrongId)), ReceiveIdError);
});

// --- Tampering: one flipped bit, every bit of every block ---

type Outcome = "padding" | "length" | "receiveId" | "utf8" | "oneBit" | "garbled";

function classify(err: unknown): Outcome {
  if (err instanceof PaddingError) return "padding";
  if (err instanceof LengthFieldError) return "length";
  if (err instanceof ReceiveIdError) return "receiveId";
  if (err instanceof MessageEncodingError) return "utf8";
  throw err;
}

/**
 * What a flipped bit at ciphertext byte `i` may produce. In CBC it garbles the
 * whole plaintext block of `i` and flips the same bit of plaintext byte i + 16.
 */
function allowedOutcomes(i: number, v: Vector): Outcome[] {
  const n = Buffer.from(ciphertextOf(v), "base64").length;
  const ridStart = 20 + utf8(v.plaintext).length;
  const padStart = n - v.pad;
  const block = Math.floor(i / 16);
  const t = i + 16; // plaintext byte whose bit flips
  if (t >= n) return ["padding", "receiveId", "length"]; // last block garbled: pad random
  if (t >= padStart) return ["padding"];
  if (t >= ridStart) return block === 1 ? ["length", "receiveId"] : ["receiveId"];
  if (t < 20) return ["length", "receiveId"];
  if (block === 0) return ["oneBit", "utf8"]; // only the ignored random prefix is garbled
  if (block === 1) return ["length", "receiveId"];
  return ["utf8", "garbled"];
}

Deno.test("decrypt() of a ciphertext with one flipped bit fails as CBC predicts, block by block", async () => {
  for (const v of vectors) {
    const app = await appOf(v);
    const original = Buffer.from(ciphertextOf(v), "base64");
    const plainBytes = utf8(v.plaintext);
    const counts: Partial<Record<Outcome, number>> = {};
    for (let i = 0; i < original.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const tampered = Buffer.from(original);
        tampered[i] ^= 1 << bit;
        let outcome: Outcome;
        try {
          const { message } = await decrypt(app, tampered.toString("base64"));
          const got = utf8(message);
          assert.notEqual(message, v.plaintext, `${v.name} byte ${i} bit ${bit}: unchanged`);
          const oneBit = got.length === plainBytes.length &&
            got.every((b, k) =>
              b === plainBytes[k] || (k === i - 4 && (b ^ plainBytes[k]) === 1 << bit)
            );
          outcome = oneBit ? "oneBit" : "garbled";
        } catch (err) {
          outcome = classify(err);
        }
        const allowed = allowedOutcomes(i, v);
        assert.ok(
          allowed.includes(outcome),
          `${v.name} byte ${i} bit ${bit}: ${outcome}, expected one of ${allowed}`,
        );
        counts[outcome] = (counts[outcome] ?? 0) + 1;
      }
    }
    // The last-block and length-field paths really were exercised.
    assert.ok((counts.padding ?? 0) >= 128, `${v.name}: ${JSON.stringify(counts)}`);
    assert.ok((counts.length ?? 0) >= 128, `${v.name}: ${JSON.stringify(counts)}`);
    assert.ok((counts.receiveId ?? 0) > 0, `${v.name}: ${JSON.stringify(counts)}`);
  }
});

Deno.test("flipping a bit in the block before the last always breaks the 32-byte padding", async () => {
  for (const v of [byName("A2"), byName("B2")]) {
    const app = await appOf(v);
    const original = Buffer.from(ciphertextOf(v), "base64");
    const start = original.length - 32;
    for (let i = start; i < start + 16; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const tampered = Buffer.from(original);
        tampered[i] ^= 1 << bit;
        await assertRejects(decrypt(app, tampered.toString("base64")), PaddingError);
      }
    }
  }
});

Deno.test("a flipped bit in the first block can change message bytes undetected: verify the signature first", async () => {
  // Documents why decrypt() alone is not enough (see verifyAndDecrypt in callback_test.ts).
  const v = byName("A2");
  const app = await appOf(v);
  const tampered = Buffer.from(ciphertextOf(v), "base64");
  tampered[4] ^= 0x01; // flips bit 0 of the first message byte: '<' (0x3c) becomes '=' (0x3d)
  const { message } = await decrypt(app, tampered.toString("base64"));
  assert.equal(message, "=" + v.plaintext.slice(1));
});

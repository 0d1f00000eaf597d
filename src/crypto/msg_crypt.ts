/**
 * WXBizMsgCrypt message encryption on WebCrypto alone.
 *
 * Plaintext layout: `random(16) ‖ msg_len(4, big-endian) ‖ msg (UTF-8) ‖
 * receiveid`, PKCS#7-padded to a multiple of **32** bytes (pad 1..32), then
 * AES-256-CBC with IV = the first 16 key bytes, then base64.
 *
 * WebCrypto's AES-CBC insists on 16-byte PKCS#7 padding, which WeCom's pads of
 * 17..32 bytes (about half of all messages) violate. So:
 * - decrypt appends two blocks, `0¹⁶ ‖ E` where `E` = AES(16 × 0x10) is
 *   computed once per app when its key is imported. In CBC the last block
 *   then decrypts to `AES⁻¹(E) ⊕ 0¹⁶` = sixteen 0x10 bytes, a valid PKCS#7
 *   block that `subtle.decrypt` strips; the zero block before it decrypts to
 *   16 bytes of no meaning, which are dropped (and wiped). The ciphertext's
 *   own blocks decrypt exactly as without the suffix, and WeCom's padding is
 *   checked here. One WebCrypto call per message instead of two: each call
 *   hands the work to a blocking thread and wakes the event loop again when
 *   it is done, which costs more than the AES itself (`deno task bench:cpu`);
 * - encrypt pads to 32 itself, and drops the 16-byte block `subtle.encrypt`
 *   adds.
 *
 * Decryption does not authenticate: CBC is malleable, so a changed first block
 * can alter message bytes undetected. Always verify the signature first
 * (`verifyAndDecrypt` in `./callback.ts` does).
 *
 * @example Usage
 * ```ts
 * import { decrypt, encrypt, importAppCrypto } from "./msg_crypt.ts";
 * const app = await importAppCrypto(
 *   "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
 *   "QDG6eK",
 *   "wx5823bf96d3bd56c7",
 * );
 * const { message, receiveId } = await decrypt(app, await encrypt(app, "你好"));
 * console.assert(message === "你好" && receiveId === "wx5823bf96d3bd56c7");
 * ```
 *
 * @module
 */

import { parseEncodingAesKey } from "./aes_key.ts";
import { decodeBase64, encodeBase64 } from "./base64.ts";
import { timingSafeEqual } from "./constant_time.ts";
import {
  DecryptError,
  LengthFieldError,
  MessageEncodingError,
  PaddingError,
  ReceiveIdError,
} from "./errors.ts";

/**
 * The crypto state of one app, built once by {@linkcode importAppCrypto} and
 * reused for every callback. `key` is a non-extractable AES-CBC key; `token`
 * and `iv` (half of the AES key) are secrets: do not log this object (Deno's
 * inspect and `JSON.stringify` show both as `[redacted]`).
 */
export interface AppCrypto {
  /** Callback Token, used for signatures. Secret. */
  readonly token: string;
  /** Expected receive id inside payloads: the corp id for a self-built app. */
  readonly receiveId: string;
  /** AES-256-CBC key, non-extractable, usages encrypt + decrypt. */
  readonly key: CryptoKey;
  /** The first 16 bytes of the AES key. Secret. */
  readonly iv: Uint8Array<ArrayBuffer>;
  /**
   * `0¹⁶ ‖ AES(16 × 0x10)`: appended to a ciphertext so that `subtle.decrypt`
   * finds valid 16-byte padding (see the module doc). Derived from the key.
   */
  readonly suffix: Uint8Array<ArrayBuffer>;
}

/** Result of a successful decryption. */
export interface Decrypted {
  /** The message (XML for callbacks, digits for URL verification). */
  message: string;
  /** The receive id found in the payload; equal to `app.receiveId`. */
  receiveId: string;
}

const AES_CBC = "AES-CBC";
const BLOCK = 16;
const PAD_TO = 32;
const HEADER = 20; // random(16) + msg_len(4)
/** Bytes appended to a ciphertext before `subtle.decrypt`: a zero block and `E`. */
const SUFFIX = 2 * BLOCK;
/** Sixteen 0x10 bytes: a full block of 16-byte PKCS#7 padding. */
const PKCS7_BLOCK = new Uint8Array(BLOCK).fill(BLOCK);
const encoder = new TextEncoder();
/** `ignoreBOM: true` keeps a leading U+FEFF: the message comes back byte for byte. */
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lossyDecoder = new TextDecoder("utf-8", { ignoreBOM: true });
const ALPHANUMERIC = encoder.encode(
  "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
);

/**
 * Validates an app's EncodingAESKey and imports it once as a non-extractable
 * AES-256-CBC key. Throws {@linkcode AesKeyError} when the key is not exactly
 * 43 letters or digits.
 *
 * @example Usage
 * ```ts
 * import { importAppCrypto } from "./msg_crypt.ts";
 * const app = await importAppCrypto(
 *   "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
 *   "QDG6eK",
 *   "wx5823bf96d3bd56c7",
 * );
 * console.assert(app.key.extractable === false && app.iv.length === 16);
 * ```
 */
export async function importAppCrypto(
  encodingAesKey: string,
  token: string,
  receiveId: string,
): Promise<AppCrypto> {
  const raw = parseEncodingAesKey(encodingAesKey);
  const key = await crypto.subtle.importKey("raw", raw, { name: AES_CBC }, false, [
    "encrypt",
    "decrypt",
  ]);
  const iv = raw.slice(0, BLOCK);
  raw.fill(0);
  // AES-CBC with a zero IV on one block is AES(block): E = AES(16 × 0x10).
  const encrypted = await crypto.subtle.encrypt(
    { name: AES_CBC, iv: new Uint8Array(BLOCK) },
    key,
    PKCS7_BLOCK,
  );
  const suffix = new Uint8Array(SUFFIX);
  suffix.set(new Uint8Array(encrypted, 0, BLOCK), BLOCK);
  const app: AppCrypto = { token, receiveId, key, iv, suffix };
  const shown = () => ({
    token: "[redacted]",
    receiveId,
    key,
    iv: "[redacted]",
    suffix: "[redacted]",
  });
  Object.defineProperties(app, {
    toJSON: { value: shown },
    [Symbol.for("Deno.customInspect")]: {
      value: (inspect: (v: unknown, o: unknown) => string, options: unknown) =>
        `AppCrypto ${inspect(shown(), options)}`,
    },
  });
  return Object.freeze(app);
}

/**
 * Decrypts a base64 `Encrypt` (or echostr) value and checks everything WeCom
 * puts inside: padding to 32-byte blocks, the length field, the receive id, and
 * UTF-8. Does not check the signature: call {@linkcode verifySignature} first,
 * or use `verifyAndDecrypt`.
 *
 * Throws {@linkcode Base64Error} (not canonical base64), {@linkcode DecryptError}
 * (length not a multiple of 16 or under 32 bytes; AES failure),
 * {@linkcode PaddingError}, {@linkcode LengthFieldError},
 * {@linkcode ReceiveIdError} (checked before the text is decoded) or
 * {@linkcode MessageEncodingError} (message not valid UTF-8).
 *
 * @example Usage
 * ```ts
 * import { decrypt, importAppCrypto } from "./msg_crypt.ts";
 * const app = await importAppCrypto(
 *   "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
 *   "QDG6eK",
 *   "wx5823bf96d3bd56c7",
 * );
 * const echostr =
 *   "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==";
 * console.assert((await decrypt(app, echostr)).message === "1616140317555161061");
 * ```
 */
export async function decrypt(app: AppCrypto, base64Ciphertext: string): Promise<Decrypted> {
  return await finishDecrypt(app, beginDecrypt(app, base64Ciphertext));
}

/**
 * A decryption under way: the AES step has started, nothing has been checked
 * or decoded yet. Internal to `src/crypto`: lets `verifyAndDecrypt` run AES
 * while the signature is being checked, and look at the result only once it
 * has passed.
 */
export interface PendingDecryption {
  /** `subtle.decrypt` of the ciphertext and the suffix: the padded plaintext and 16 spare bytes. */
  readonly aes: Promise<ArrayBuffer>;
}

/**
 * Decodes and checks the shape of a ciphertext, and starts AES (one
 * `subtle.decrypt` call). Throws {@linkcode Base64Error} or
 * {@linkcode DecryptError} synchronously. Internal to `src/crypto`; use
 * {@linkcode decrypt}.
 *
 * @example Usage
 * ```ts
 * import { beginDecrypt, finishDecrypt, importAppCrypto } from "./msg_crypt.ts";
 * const app = await importAppCrypto(
 *   "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
 *   "QDG6eK",
 *   "wx5823bf96d3bd56c7",
 * );
 * const echostr =
 *   "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==";
 * const { message } = await finishDecrypt(app, beginDecrypt(app, echostr));
 * console.assert(message === "1616140317555161061");
 * ```
 */
export function beginDecrypt(app: AppCrypto, base64Ciphertext: string): PendingDecryption {
  const ciphertext = decodeBase64(base64Ciphertext, SUFFIX);
  const n = ciphertext.length;
  if (n < 2 * BLOCK || n % BLOCK !== 0) {
    throw new DecryptError(
      `the ciphertext is ${n} bytes long, not a multiple of 16 of at least 32 bytes`,
    );
  }
  // Room for the suffix was reserved by decodeBase64: no copy needed.
  const extended = new Uint8Array(ciphertext.buffer, ciphertext.byteOffset, n + SUFFIX);
  extended.set(app.suffix, n);
  const aes = crypto.subtle.decrypt({ name: AES_CBC, iv: app.iv }, app.key, extended);
  // Handled in finishDecrypt; this keeps a rejection from counting as unhandled meanwhile.
  aes.catch(() => {});
  return { aes };
}

/**
 * Completes a decryption started by {@linkcode beginDecrypt}: waits for AES,
 * then checks padding, length field, receive id and UTF-8 as described at
 * {@linkcode decrypt}. Internal to `src/crypto`; use {@linkcode decrypt}.
 *
 * @example Usage
 * ```ts
 * import { beginDecrypt, finishDecrypt, importAppCrypto } from "./msg_crypt.ts";
 * const app = await importAppCrypto(
 *   "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
 *   "QDG6eK",
 *   "wx5823bf96d3bd56c7",
 * );
 * const echostr =
 *   "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==";
 * const { receiveId } = await finishDecrypt(app, beginDecrypt(app, echostr));
 * console.assert(receiveId === "wx5823bf96d3bd56c7");
 * ```
 */
export async function finishDecrypt(
  app: AppCrypto,
  pending: PendingDecryption,
): Promise<Decrypted> {
  let out: Uint8Array;
  try {
    out = new Uint8Array(await pending.aes);
  } catch (cause) {
    throw new DecryptError("AES-CBC decryption failed", { cause });
  }
  // The last block is the zero block's meaningless decryption: wipe and drop it.
  const n = out.length - BLOCK;
  out.fill(0, n);
  return parsePlaintext(app, out.subarray(0, n));
}

function parsePlaintext(app: AppCrypto, plain: Uint8Array): Decrypted {
  const n = plain.length;
  const pad = plain[n - 1];
  if (pad < 1 || pad > PAD_TO) {
    throw new PaddingError(`the pad byte is ${pad}, outside 1..32`);
  }
  let diff = 0;
  for (let i = n - pad; i < n; i++) diff |= plain[i] ^ pad;
  if (diff !== 0) throw new PaddingError(`the last ${pad} bytes are not all equal to ${pad}`);

  const end = n - pad;
  if (end < HEADER) {
    throw new LengthFieldError(
      `only ${end} bytes remain after the padding, too few for the random prefix and msg_len`,
    );
  }
  const msgLen = ((plain[16] << 24) | (plain[17] << 16) | (plain[18] << 8) | plain[19]) >>> 0;
  if (msgLen > end - HEADER) {
    throw new LengthFieldError(`msg_len is ${msgLen} but only ${end - HEADER} bytes follow it`);
  }
  const receiveIdBytes = plain.subarray(HEADER + msgLen, end);
  if (!timingSafeEqual(receiveIdBytes, encoder.encode(app.receiveId))) {
    throw new ReceiveIdError(
      app.receiveId,
      lossyDecoder.decode(receiveIdBytes.subarray(0, 65)),
      receiveIdBytes.length,
    );
  }
  let message: string;
  try {
    message = decoder.decode(plain.subarray(HEADER, HEADER + msgLen));
  } catch (cause) {
    throw new MessageEncodingError({ cause });
  }
  return { message, receiveId: app.receiveId };
}

/**
 * Encrypts a message for WeCom (or for a simulated WeCom): builds
 * `random ‖ msg_len ‖ msg ‖ app.receiveId`, pads it to 32-byte blocks and
 * returns the base64 ciphertext.
 *
 * `random` is the 16-byte prefix; by default 16 characters of `[0-9a-zA-Z]`
 * from `crypto.getRandomValues`, like the official SDKs. Pass a fixed one only
 * to reproduce known answers. Throws `RangeError` when it is not 16 bytes.
 *
 * @example Usage
 * ```ts
 * import { encrypt, importAppCrypto } from "./msg_crypt.ts";
 * const app = await importAppCrypto(
 *   "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
 *   "QDG6eK",
 *   "wx5823bf96d3bd56c7",
 * );
 * const random = new TextEncoder().encode("c41b64491c2468d0");
 * const echostr = await encrypt(app, "1616140317555161061", random);
 * console.assert(echostr.startsWith("P9nAzCzyDtyTWESHep1vC5X9xho/"));
 * ```
 */
export async function encrypt(
  app: AppCrypto,
  message: string,
  random?: Uint8Array,
): Promise<string> {
  const prefix = random ?? randomPrefix();
  if (prefix.length !== BLOCK) {
    throw new RangeError(
      `Cannot encrypt as 'random' must be 16 bytes: current length is ${prefix.length}`,
    );
  }
  const receiveId = encoder.encode(app.receiveId);
  // UTF-8 needs at most 3 bytes per UTF-16 code unit: encode in place, no copy.
  const buffer = new Uint8Array(HEADER + message.length * 3 + receiveId.length + PAD_TO);
  buffer.set(prefix, 0);
  const { written } = encoder.encodeInto(message, buffer.subarray(HEADER));
  new DataView(buffer.buffer).setUint32(BLOCK, written);
  buffer.set(receiveId, HEADER + written);
  const unpadded = HEADER + written + receiveId.length;
  const pad = PAD_TO - (unpadded % PAD_TO);
  const padded = unpadded + pad;
  buffer.fill(pad, unpadded, padded);
  const ciphertext = await crypto.subtle.encrypt(
    { name: AES_CBC, iv: app.iv },
    app.key,
    buffer.subarray(0, padded),
  );
  // Drop the block of 16-byte padding WebCrypto appended.
  return encodeBase64(new Uint8Array(ciphertext, 0, padded));
}

/** 16 characters of [0-9a-zA-Z], unbiased (rejection of bytes ≥ 248 = 4 × 62). */
function randomPrefix(): Uint8Array {
  const out = new Uint8Array(BLOCK);
  const pool = new Uint8Array(2 * BLOCK);
  let i = 0;
  while (i < BLOCK) {
    crypto.getRandomValues(pool);
    for (let j = 0; j < pool.length && i < BLOCK; j++) {
      if (pool[j] < 248) out[i++] = ALPHANUMERIC[pool[j] % 62];
    }
  }
  return out;
}

/**
 * The two operations the gateway and the WeCom simulator perform per
 * exchange: verify-then-decrypt an inbound payload, and encrypt-then-sign a
 * reply. XML/JSON envelopes are handled by the HTTP layer, not here.
 *
 * @example Usage
 * ```ts
 * import { importAppCrypto, sealReply, verifyAndDecrypt } from "./mod.ts";
 * const app = await importAppCrypto(
 *   "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
 *   "QDG6eK",
 *   "wx5823bf96d3bd56c7",
 * );
 * const { encrypt, signature } = await sealReply(app, "<xml/>", "1409659813", "1372623149");
 * const opened = await verifyAndDecrypt(app, {
 *   signature,
 *   timestamp: "1409659813",
 *   nonce: "1372623149",
 *   ciphertext: encrypt,
 * });
 * console.assert(opened.message === "<xml/>");
 * ```
 *
 * @module
 */

import { SignatureError } from "./errors.ts";
import {
  type AppCrypto,
  beginDecrypt,
  type Decrypted,
  encrypt,
  finishDecrypt,
  type PendingDecryption,
} from "./msg_crypt.ts";
import { computeSignature, verifySignature } from "./signature.ts";

/** The signed values of one inbound request. */
export interface SignedPayload {
  /** The `msg_signature` query parameter. */
  signature: string;
  /** The `timestamp` query parameter. */
  timestamp: string;
  /** The `nonce` query parameter. */
  nonce: string;
  /** The `Encrypt` text of a POST, or the percent-decoded `echostr` of a GET. */
  ciphertext: string;
}

/** An encrypted, signed reply: the `Encrypt` and `MsgSignature` of the envelope. */
export interface SealedReply {
  /** Base64 ciphertext. */
  encrypt: string;
  /** SHA-1 signature over (token, timestamp, nonce, encrypt). */
  signature: string;
}

/**
 * Verifies the signature, then decrypts. Throws {@linkcode SignatureError}
 * when the signature does not match (even if the ciphertext is also
 * malformed), so a tampered ciphertext never yields a plaintext; otherwise
 * throws what `decrypt` throws.
 *
 * @example Usage
 * ```ts
 * import { importAppCrypto, verifyAndDecrypt } from "./mod.ts";
 * const app = await importAppCrypto(
 *   "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
 *   "QDG6eK",
 *   "wx5823bf96d3bd56c7",
 * );
 * const { message } = await verifyAndDecrypt(app, {
 *   signature: "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
 *   timestamp: "1409659589",
 *   nonce: "263014780",
 *   ciphertext:
 *     "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
 * });
 * console.assert(message === "1616140317555161061");
 * ```
 */
export async function verifyAndDecrypt(
  app: AppCrypto,
  payload: SignedPayload,
): Promise<Decrypted> {
  const { signature, timestamp, nonce, ciphertext } = payload;
  const verified = verifySignature(app.token, timestamp, nonce, ciphertext, signature);
  // Run AES while SHA-1 runs: one round trip to WebCrypto fewer on the critical path. The
  // result is not looked at (no padding, length or receive id check, no decoding) unless the
  // signature passes, so a forged request learns nothing but "signature invalid".
  let pending: PendingDecryption | undefined;
  let malformed: unknown;
  try {
    pending = beginDecrypt(app, ciphertext);
  } catch (err) {
    malformed = err;
  }
  if (!await verified) {
    // Leave no WebCrypto work running behind a rejected request (and test sanitizers quiet).
    await pending?.aes.catch(() => {});
    throw new SignatureError(
      typeof signature === "string" && /^[0-9a-f]{40}$/.test(signature)
        ? "it does not match the payload"
        : "it is not 40 lowercase hex digits",
    );
  }
  if (pending === undefined) throw malformed;
  return await finishDecrypt(app, pending);
}

/**
 * Encrypts a reply and signs it: the `Encrypt` and `MsgSignature` of a
 * passive-reply envelope, or of a simulated WeCom callback.
 *
 * @example Usage
 * ```ts
 * import { importAppCrypto, sealReply } from "./mod.ts";
 * const app = await importAppCrypto(
 *   "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
 *   "QDG6eK",
 *   "wx5823bf96d3bd56c7",
 * );
 * const sealed = await sealReply(app, "<xml/>", "1409659813", "1372623149");
 * console.assert(sealed.signature.length === 40);
 * ```
 */
export async function sealReply(
  app: AppCrypto,
  message: string,
  timestamp: string,
  nonce: string,
  random?: Uint8Array,
): Promise<SealedReply> {
  const ciphertext = await encrypt(app, message, random);
  const signature = await computeSignature(app.token, timestamp, nonce, ciphertext);
  return { encrypt: ciphertext, signature };
}

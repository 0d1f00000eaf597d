/**
 * WeCom callback crypto (WXBizMsgCrypt) on WebCrypto only: signatures, strict
 * base64, AES-256-CBC with WeCom's 32-byte PKCS#7 padding, and typed errors
 * carrying the official SDK return codes.
 *
 * Import each app's key once with {@linkcode importAppCrypto}; per callback,
 * call {@linkcode verifyAndDecrypt}; to build a reply or a simulated callback,
 * call {@linkcode sealReply}.
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
 *
 * @module
 */

export { parseEncodingAesKey } from "./aes_key.ts";
export { decodeBase64, encodeBase64 } from "./base64.ts";
export { type SealedReply, sealReply, type SignedPayload, verifyAndDecrypt } from "./callback.ts";
export { timingSafeEqual } from "./constant_time.ts";
export {
  AesKeyError,
  Base64Error,
  DecryptError,
  LengthFieldError,
  MessageEncodingError,
  PaddingError,
  ReceiveIdError,
  SignatureError,
  WeComCryptoError,
  type WeComCryptoErrorCode,
} from "./errors.ts";
export { type AppCrypto, decrypt, type Decrypted, encrypt, importAppCrypto } from "./msg_crypt.ts";
export { computeSignature, verifySignature } from "./signature.ts";

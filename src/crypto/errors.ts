/**
 * Typed errors of the WeCom callback crypto (WXBizMsgCrypt).
 *
 * Every failure has its own class, all extending {@linkcode WeComCryptoError}.
 * Each carries a stable `code` string for programs and metrics, and the
 * `sdkCode` the official Tencent SDKs return for the same failure (the
 * -400xx list on WeCom's "加解密库下载与返回码" page), so operators can match
 * our logs against WeCom's documentation.
 *
 * Messages never contain secrets (Token, EncodingAESKey) nor message text. They
 * do contain corp ids, which are not secret.
 *
 * The peer (WeCom, or whoever posts to the callback) must not be told which
 * class occurred: answer every one of them with the same status (403), so the
 * errors cannot serve as a padding oracle.
 *
 * @example Usage
 * ```ts
 * import { WeComCryptoError, SignatureError } from "./errors.ts";
 * const err: unknown = new SignatureError();
 * if (err instanceof WeComCryptoError) {
 *   console.assert(err.sdkCode === -40001 && err.code === "signature_mismatch");
 * }
 * ```
 *
 * @module
 */

/** Stable identifiers of the crypto failures, one per error class. */
export type WeComCryptoErrorCode =
  | "signature_mismatch"
  | "invalid_aes_key"
  | "receive_id_mismatch"
  | "decrypt_failed"
  | "invalid_padding"
  | "invalid_length_field"
  | "invalid_utf8"
  | "invalid_base64";

/** Base class of every error thrown by `src/crypto`. */
export class WeComCryptoError extends Error {
  /** Stable identifier of the failure, e.g. `"invalid_padding"`. */
  readonly code: WeComCryptoErrorCode;
  /** The official SDK's return code for the same failure, e.g. -40001. */
  readonly sdkCode: number;

  /**
   * Creates an error; used by the subclasses.
   *
   * @example Usage
   * ```ts
   * import { WeComCryptoError } from "./errors.ts";
   * const err = new WeComCryptoError("Cannot decrypt", "decrypt_failed", -40007);
   * console.assert(err.sdkCode === -40007);
   * ```
   */
  constructor(
    message: string,
    code: WeComCryptoErrorCode,
    sdkCode: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.sdkCode = sdkCode;
  }
}

const CHECK_CONFIG =
  "the EncodingAESKey or Token in config does not match the one in the WeCom admin console " +
  "(应用管理 → 接收消息 → API接收), or the request was not sent by WeCom";

/**
 * `msg_signature` does not match SHA-1 over the sorted (token, timestamp,
 * nonce, payload). SDK code -40001 (ValidateSignature_Error).
 *
 * @example Usage
 * ```ts
 * import { SignatureError } from "./errors.ts";
 * console.assert(new SignatureError().sdkCode === -40001);
 * ```
 */
export class SignatureError extends WeComCryptoError {
  /** Creates the error; `detail` says what was wrong with the signature. */
  constructor(detail = "it does not match the payload") {
    super(
      `Cannot accept the request as its msg_signature is invalid (${detail}): check that the ` +
        "Token in config matches the one in the WeCom admin console, or the request was not " +
        "sent by WeCom",
      "signature_mismatch",
      -40001,
    );
  }
}

/**
 * The configured EncodingAESKey is not 43 characters of `[A-Za-z0-9]`.
 * SDK code -40004 (IllegalAesKey). The key itself is never part of the message.
 *
 * @example Usage
 * ```ts
 * import { AesKeyError } from "./errors.ts";
 * console.assert(new AesKeyError("it has 42 characters").sdkCode === -40004);
 * ```
 */
export class AesKeyError extends WeComCryptoError {
  /** Creates the error; `detail` describes the key's shape, never its value. */
  constructor(detail: string) {
    super(
      "Cannot use the EncodingAESKey as it must be exactly 43 letters or digits: " +
        `${detail}; copy it again from the WeCom admin console (应用管理 → 接收消息 → API接收)`,
      "invalid_aes_key",
      -40004,
    );
  }
}

const ID_LIKE = /^[\x21-\x7e]{1,64}$/;

/**
 * The receive id inside the decrypted payload is not this app's corp id.
 * SDK code -40005 (ValidateCorpid_Error).
 *
 * @example Usage
 * ```ts
 * import { ReceiveIdError } from "./errors.ts";
 * const err = new ReceiveIdError("ww1", "ww2", 3);
 * console.assert(err.expected === "ww1" && err.actual === "ww2");
 * ```
 */
export class ReceiveIdError extends WeComCryptoError {
  /** The receive id this app is configured with (its corp id). */
  readonly expected: string;
  /**
   * The receive id found in the payload, or `null` when those bytes do not look
   * like an id (1..64 printable ASCII characters): then the payload is garbled,
   * and its bytes may hold message text, which must not reach logs.
   */
  readonly actual: string | null;
  /** Length in bytes of the receive id found in the payload. */
  readonly actualLength: number;

  /** Creates the error; `actual` is dropped unless it looks like an id. */
  constructor(expected: string, actual: string, actualLength: number) {
    const shown = ID_LIKE.test(actual) ? actual : null;
    super(
      shown === null
        ? `Cannot accept the message as its receive id (${actualLength} bytes, not an id) is not ` +
          `the configured corp id '${expected}': ${CHECK_CONFIG}`
        : `Cannot accept the message as it was encrypted for receive id '${shown}' but this app's ` +
          `corp id is '${expected}': check corp_id in config, and that the callback URL is ` +
          "configured on an app of that corp",
      "receive_id_mismatch",
      -40005,
    );
    this.expected = expected;
    this.actual = shown;
    this.actualLength = actualLength;
  }
}

/**
 * The ciphertext cannot be AES-decrypted: its length is not a multiple of 16
 * or is below 32 bytes, or AES-CBC failed. SDK code -40007 (DecryptAES_Error).
 *
 * @example Usage
 * ```ts
 * import { DecryptError } from "./errors.ts";
 * console.assert(new DecryptError("it is 20 bytes long").sdkCode === -40007);
 * ```
 */
export class DecryptError extends WeComCryptoError {
  /** Creates the error; `detail` says what was wrong with the ciphertext. */
  constructor(detail: string, options?: ErrorOptions) {
    super(
      `Cannot decrypt the message as ${detail}: the Encrypt/echostr value was probably cut ` +
        "or altered on its way; check any proxy in front of the gateway",
      "decrypt_failed",
      -40007,
      options,
    );
  }
}

/**
 * The decrypted bytes do not end in valid PKCS#7 padding to 32-byte blocks
 * (pad byte outside 1..32, or the pad bytes differ). This is what a wrong
 * EncodingAESKey looks like. SDK code -40008 (IllegalBuffer).
 *
 * @example Usage
 * ```ts
 * import { PaddingError } from "./errors.ts";
 * console.assert(new PaddingError("the pad byte is 0").sdkCode === -40008);
 * ```
 */
export class PaddingError extends WeComCryptoError {
  /** Creates the error; `detail` says what was wrong with the padding. */
  constructor(detail: string) {
    super(
      `Cannot decrypt the message as its padding is invalid (${detail}): ${CHECK_CONFIG}`,
      "invalid_padding",
      -40008,
    );
  }
}

/**
 * The 4-byte big-endian `msg_len` after the random prefix points beyond the
 * decrypted buffer, or the buffer is too short to hold it.
 * SDK code -40008 (IllegalBuffer).
 *
 * @example Usage
 * ```ts
 * import { LengthFieldError } from "./errors.ts";
 * console.assert(new LengthFieldError("msg_len 900 exceeds 12").sdkCode === -40008);
 * ```
 */
export class LengthFieldError extends WeComCryptoError {
  /** Creates the error; `detail` gives the length found and the room available. */
  constructor(detail: string) {
    super(
      `Cannot decrypt the message as its length field is invalid (${detail}): ${CHECK_CONFIG}`,
      "invalid_length_field",
      -40008,
    );
  }
}

/**
 * The decrypted message is not valid UTF-8. WeCom always sends UTF-8, so the
 * payload is garbled. SDK code -40008 (IllegalBuffer): its own class, because
 * the length field and receive id were fine.
 *
 * @example Usage
 * ```ts
 * import { MessageEncodingError } from "./errors.ts";
 * console.assert(new MessageEncodingError().code === "invalid_utf8");
 * ```
 */
export class MessageEncodingError extends WeComCryptoError {
  /** Creates the error. */
  constructor(options?: ErrorOptions) {
    super(
      `Cannot decrypt the message as its text is not valid UTF-8: ${CHECK_CONFIG}`,
      "invalid_utf8",
      -40008,
      options,
    );
  }
}

/**
 * The Encrypt/echostr value is not canonical standard base64 (RFC 4648 §4
 * with `=` padding, no whitespace, zero trailing bits).
 * SDK code -40010 (DecodeBase64_Error).
 *
 * @example Usage
 * ```ts
 * import { Base64Error } from "./errors.ts";
 * console.assert(new Base64Error("it contains whitespace").sdkCode === -40010);
 * ```
 */
export class Base64Error extends WeComCryptoError {
  /** Creates the error; `detail` says what was wrong with the text. */
  constructor(detail: string, options?: ErrorOptions) {
    super(
      `Cannot decode the ciphertext as it is not canonical base64 (${detail}): for a GET URL ` +
        "verification, percent-decode echostr exactly once and keep '+' as '+'",
      "invalid_base64",
      -40010,
      options,
    );
  }
}

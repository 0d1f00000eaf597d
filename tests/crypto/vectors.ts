/**
 * WeCom's known-answer crypto vectors (`tests/fixtures/crypto-vectors.json`,
 * from Tencent's WXBizMsgCrypt samples) and what the crypto tests derive from
 * each: its ciphertext and its app's keys.
 *
 * @example Usage
 * ```ts ignore
 * import { appOf, byName, ciphertextOf } from "./vectors.ts";
 * const v = byName("A2");
 * const app = await appOf(v);
 * console.log(ciphertextOf(v).length);
 * ```
 *
 * @module
 */

import { type AppCrypto, importAppCrypto } from "../../src/crypto/mod.ts";

/** One vector: an app's keys, a signed ciphertext and what it holds. */
export interface Vector {
  name: string;
  token: string;
  encoding_aes_key: string;
  corp_id: string;
  msg_signature: string;
  timestamp: string;
  nonce: string;
  /** The ciphertext of a POST callback. */
  encrypt?: string;
  /** The ciphertext of a GET URL verification. */
  echostr?: string;
  plaintext: string;
  random_ascii: string;
  /** The PKCS#7 padding byte. */
  pad: number;
}

/** Every vector of the file. */
export const vectors: Vector[] = (JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/crypto-vectors.json", import.meta.url)),
) as { vectors: Vector[] }).vectors;

/** The vector called `name`. */
export const byName = (name: string): Vector => vectors.find((v) => v.name === name)!;

/** The vector's ciphertext: `encrypt` (POST) or `echostr` (GET). */
export const ciphertextOf = (v: Vector): string => v.encrypt ?? v.echostr ?? "";

/** The vector's app keys, with `receiveId` (default: its corp id). */
export const appOf = (v: Vector, receiveId: string = v.corp_id): Promise<AppCrypto> =>
  importAppCrypto(v.encoding_aes_key, v.token, receiveId);

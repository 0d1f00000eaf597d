/**
 * The shape of a callback fuzz case and what building one needs: the apps
 * under test, valid control messages, the endpoint's path and clock, the
 * envelope and signed-query helpers.
 *
 * @example Usage
 * ```ts ignore
 * import { envelope, type FuzzCase, PATH } from "./callback_case.ts";
 * const c: FuzzCase = { category: "", label: "empty envelope", path: PATH, body: envelope("") };
 * ```
 *
 * @module
 */

import type { AppConfig } from "../../../src/config/types.ts";
import { type AppCrypto, computeSignature } from "../../../src/crypto/mod.ts";
import type * as gen from "./generate.ts";

/** The shared callback path. */
export const PATH = "/wecom/callback";
/** The gateway's clock during the fuzz run, s. */
export const NOW_S = 1_750_000_000;
/** `NOW_S` as the query's timestamp. */
export const TS = String(NOW_S);
/** The body size limit of the endpoint under test. */
export const MAX_BODY = 64 * 1024;

/** An app under test, with its crypto. */
export interface FuzzApp {
  config: AppConfig;
  crypto: AppCrypto;
}

/** A valid sealed message (the control group). */
export interface Control {
  app: FuzzApp;
  msgId: string;
  plaintext: string;
  encrypt: string;
  nonce: string;
  query: string;
  body: string;
}

/** What the case generators need of the world under test. */
export interface CaseWorld {
  apps: FuzzApp[];
}

/** A case's body: text, bytes, a stream made on demand, or none. */
export type Body = string | Uint8Array<ArrayBuffer> | (() => ReadableStream<Uint8Array>) | null;

/** One fuzz case. */
export interface FuzzCase {
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

/** The `<xml><Encrypt>` envelope around `encryptText` (of `app`, when given). */
export function envelope(encryptText: string, app?: FuzzApp): string {
  const inner = encryptText.includes("]]>")
    ? encryptText.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    : `<![CDATA[${encryptText}]]>`;
  const to = app ? `<ToUserName><![CDATA[${app.config.corpId}]]></ToUserName>` : "";
  const agent = app ? `<AgentID><![CDATA[${app.config.agentId}]]></AgentID>` : "";
  return `<xml>${to}<Encrypt>${inner}</Encrypt>${agent}</xml>`;
}

/** A query with a valid signature of `app` over `payload` (as the gateway will read it). */
export async function signedQuery(
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
export function randomQuery(rng: gen.Rng): string {
  return `msg_signature=${rng.string(40, "0123456789abcdef")}&timestamp=${TS}&nonce=${
    rng.int(1e9)
  }`;
}

/** The shared path or one app's own path. */
export const pickPath = (world: CaseWorld, rng: gen.Rng) =>
  rng.chance(0.7) ? PATH : `${PATH}/${rng.pick(world.apps).config.name}`;

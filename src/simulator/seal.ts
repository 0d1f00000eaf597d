/**
 * Building callbacks exactly as WeCom sends them: the plaintext XML of each
 * message type, sealed (encrypted, signed) into a URL query and an envelope.
 *
 * Used by the simulator, the `simulate` command, the demo, the tests and the
 * benchmarks, so that all of them speak the same bytes as WeCom.
 *
 * @example Usage
 * ```ts
 * import { importAppCrypto } from "../crypto/mod.ts";
 * import { sealCallback, textMessage } from "./seal.ts";
 * const app = await importAppCrypto("jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "QDG6eK", "wx5823bf96d3bd56c7");
 * const xml = textMessage({ corpId: "wx5823bf96d3bd56c7", agentId: "218", userId: "lisi", content: "hi", msgId: "1" });
 * const { query, body } = await sealCallback(app, xml, { corpId: "wx5823bf96d3bd56c7", agentId: "218" });
 * console.assert(query.startsWith("msg_signature=") && body.includes("<Encrypt>"));
 * ```
 *
 * @module
 */

import { type AppCrypto, computeSignature, encrypt } from "../crypto/mod.ts";

/** Who sends and who receives a simulated message. */
export interface SimulatedParty {
  corpId: string;
  agentId: string;
  userId: string;
  /** CreateTime in seconds (default: now). */
  createTime?: number;
}

function cdata(text: string): string {
  return `<![CDATA[${text.replaceAll("]]>", "]]]]><![CDATA[>")}]]>`;
}

function wrap(party: SimulatedParty, msgType: string, inner: string): string {
  const time = party.createTime ?? Math.floor(Date.now() / 1000);
  return `<xml><ToUserName>${cdata(party.corpId)}</ToUserName>` +
    `<FromUserName>${cdata(party.userId)}</FromUserName>` +
    `<CreateTime>${time}</CreateTime><MsgType>${cdata(msgType)}</MsgType>` +
    `${inner}<AgentID>${party.agentId}</AgentID></xml>`;
}

/** The decrypted XML of a text message. */
export function textMessage(party: SimulatedParty & { content: string; msgId: string }): string {
  return wrap(
    party,
    "text",
    `<Content>${cdata(party.content)}</Content><MsgId>${party.msgId}</MsgId>`,
  );
}

/** The decrypted XML of an event (`enter_agent`, `click`, …). */
export function eventMessage(party: SimulatedParty & { event: string; eventKey?: string }): string {
  return wrap(
    party,
    "event",
    `<Event>${cdata(party.event)}</Event><EventKey>${cdata(party.eventKey ?? "")}</EventKey>`,
  );
}

/** The decrypted XML of any message type from its fields (values are CDATA-wrapped). */
export function anyMessage(
  party: SimulatedParty & { msgType: string; fields: Record<string, string> },
): string {
  const inner = Object.entries(party.fields).map(([name, value]) =>
    `<${name}>${cdata(value)}</${name}>`
  )
    .join("");
  return wrap(party, party.msgType, inner);
}

/** Random digits, as WeCom's nonces are. */
export function randomNonce(): string {
  return String(crypto.getRandomValues(new Uint32Array(1))[0]);
}

/** A sealed POST callback: the query string (without "?") and the XML envelope. */
export interface SealedCallback {
  query: string;
  body: string;
}

/**
 * Encrypts `plaintext`, signs it and wraps it in WeCom's envelope, with the
 * query WeCom would send (`msg_signature`, `timestamp`, `nonce`).
 */
export async function sealCallback(
  app: AppCrypto,
  plaintext: string,
  options: { corpId: string; agentId: string; timestamp?: string; nonce?: string },
): Promise<SealedCallback> {
  const timestamp = options.timestamp ?? String(Math.floor(Date.now() / 1000));
  const nonce = options.nonce ?? randomNonce();
  const ciphertext = await encrypt(app, plaintext);
  const signature = await computeSignature(app.token, timestamp, nonce, ciphertext);
  return {
    query: `msg_signature=${signature}&timestamp=${timestamp}&nonce=${nonce}`,
    body: `<xml><ToUserName>${cdata(options.corpId)}</ToUserName>` +
      `<Encrypt>${cdata(ciphertext)}</Encrypt><AgentID>${cdata(options.agentId)}</AgentID></xml>`,
  };
}

/**
 * The query of a URL-verification GET for `echo` (WeCom sends a random number),
 * with the echostr percent-encoded as WeCom does.
 */
export async function sealVerification(
  app: AppCrypto,
  echo: string,
  options: { timestamp?: string; nonce?: string } = {},
): Promise<string> {
  const timestamp = options.timestamp ?? String(Math.floor(Date.now() / 1000));
  const nonce = options.nonce ?? randomNonce();
  const echostr = await encrypt(app, echo);
  const signature = await computeSignature(app.token, timestamp, nonce, echostr);
  return `msg_signature=${signature}&timestamp=${timestamp}&nonce=${nonce}&echostr=${
    encodeURIComponent(echostr)
  }`;
}

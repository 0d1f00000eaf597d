/**
 * A simulated WeCom member talking to a gateway: each message is sealed and
 * POSTed to the callback URL exactly as WeCom does (encrypted, signed, with a
 * MsgId), and the replies are read back from the simulated WeCom API the
 * gateway delivers to.
 *
 * `send` resolves once the gateway has nothing left to do for the member
 * (`settled`), with every reply delivered to the member meanwhile, in order.
 * Without `settled` it waits for a first reply and then for `quietMs` without
 * another one.
 *
 * @example Usage
 * ```ts ignore
 * import { createSimulatedUser } from "./user.ts";
 * const user = await createSimulatedUser({ callbackUrl, app, api, userId: "zhangsan" });
 * const exchange = await user.send("你好");
 * console.log(exchange.replies.map((reply) => reply.content)); // ["你好"] with the echo agent
 * ```
 *
 * @module
 */

import type { AppConfig } from "../config/types.ts";
import { type AppCrypto, importAppCrypto } from "../crypto/mod.ts";
import { anyMessage, eventMessage, sealCallback, textMessage } from "./seal.ts";
import type { FakeMessage, FakeWeComApi } from "./wecom_api.ts";
import { demoMedia, type SampleMedia } from "./media_samples.ts";

/** A message the gateway delivered to the member through the simulated WeCom API. */
export interface ReceivedMessage {
  /** `text`, `markdown`, `image`, … */
  msgtype: string;
  /** The text of a text or markdown message; a one-line description of any other kind. */
  content: string;
  /** UTF-8 bytes of `content`. */
  bytes: number;
  msgid: string;
  /** Milliseconds from the first POST of the exchange until the simulated API received it. */
  afterMs: number;
  /** Recalled later (e.g. a "working on it" notice withdrawn before the reply). */
  recalled: boolean;
  /** Cut at 2048 bytes by the simulated WeCom (the gateway should never let that happen). */
  truncated: boolean;
}

/** One POST of a callback. */
export interface PostResult {
  /** HTTP status the gateway answered. */
  status: number;
  /** Milliseconds from the first POST of the exchange until this answer. */
  afterMs: number;
}

/** What happened to one message: its POSTs and the replies. */
export interface Exchange {
  /** The MsgId sent (absent for events). */
  msgId?: string;
  /** One entry per POST: several when WeCom's retries were simulated. */
  posts: PostResult[];
  /** Replies delivered to the member, in the order the simulated WeCom received them. */
  replies: ReceivedMessage[];
  /** Milliseconds from the first POST until the exchange settled. */
  totalMs: number;
}

/** Options of one send. */
export interface SendOptions {
  /** MsgId to use (default: a new one). Reuse one to simulate a message sent again. */
  msgId?: string;
  /**
   * How often WeCom delivers the callback (default 1). WeCom retries a callback
   * it got no answer for within 5 s, up to three times in all, with the same MsgId.
   */
  times?: number;
  /** How long to wait for the replies, ms (default: the user's `timeoutMs`). */
  timeoutMs?: number;
}

/** Thrown when the gateway does not answer a callback with 200. */
export class CallbackRejectedError extends Error {
  /** The HTTP status the gateway answered. */
  readonly status: number;
  /** The start of the response body. */
  readonly body: string;

  /** Creates the error for an answer `status` with `body`. */
  constructor(status: number, body: string, url: string) {
    super(
      `The gateway answered the callback at ${url} with HTTP ${status} instead of 200` +
        `${body ? `: ${body.trim().slice(0, 200)}` : ""}. ` +
        "Check that the callback URL, corp id, token and AES key match the gateway's app.",
    );
    this.name = "CallbackRejectedError";
    this.status = status;
    this.body = body;
  }
}

/** Thrown when the replies to a message did not all arrive in time. */
export class ReplyTimeoutError extends Error {
  /** The member who waited. */
  readonly userId: string;
  /** How long it waited, ms. */
  readonly timeoutMs: number;
  /** What did arrive before the deadline. */
  readonly received: ReceivedMessage[];

  /** Creates the error for `userId` after `timeoutMs` with the replies `received` so far. */
  constructor(userId: string, timeoutMs: number, received: ReceivedMessage[]) {
    super(
      `No complete reply reached '${userId}' within ${timeoutMs} ms (${received.length} ` +
        `message${received.length === 1 ? "" : "s"} arrived). The gateway still had work ` +
        "queued for this member: look at its log (`demo --verbose` shows it), or allow more time.",
    );
    this.name = "ReplyTimeoutError";
    this.userId = userId;
    this.timeoutMs = timeoutMs;
    this.received = received;
  }
}

/** What {@linkcode createSimulatedUser} needs. */
export interface SimulatedUserOptions {
  /** The gateway's callback URL, e.g. `http://127.0.0.1:8645/wecom/callback`. */
  callbackUrl: string;
  /** The app the member writes to: corp id, agent id, callback token and AES key. */
  app: Pick<AppConfig, "corpId" | "agentId" | "token" | "encodingAesKey">;
  /**
   * The simulated WeCom API the gateway delivers replies to; with `addMedia`, the files the
   * member sends are registered there, so the gateway can download them.
   */
  api: Pick<FakeWeComApi, "delivered"> & Partial<Pick<FakeWeComApi, "addMedia">>;
  /** The member's user id (default `demo-user`). */
  userId?: string;
  /** True once the gateway has nothing queued or running for this member. */
  settled?: (userId: string) => Promise<boolean>;
  /** Default wait for replies, ms (default 10 000). */
  timeoutMs?: number;
  /** Interval of the checks while waiting, ms (default 20). */
  pollMs?: number;
  /** Without `settled`: quiet time after the last reply before an exchange ends, ms (default 300). */
  quietMs?: number;
  /** `fetch` used for the callbacks (default the global one). */
  fetch?: typeof fetch;
}

/** A simulated member of the corp. */
export interface SimulatedUser {
  /** The member's user id. */
  readonly userId: string;
  /** Sends a text message; resolves with the replies. */
  send(text: string, options?: SendOptions): Promise<Exchange>;
  /** Sends an image message (as a phone does: a PicUrl and a MediaId). */
  sendImage(
    options?: SendOptions & { picUrl?: string; mediaId?: string },
  ): Promise<Exchange>;
  /**
   * Sends an image, voice or video message whose file the simulated WeCom serves: `file`
   * (default: the demo's sample of that type) is registered with `api.addMedia` first.
   * Resolves with the exchange and the media id.
   */
  sendMedia(
    type: MediaMessageType,
    options?: SendOptions & { file?: SampleMedia },
  ): Promise<Exchange & { mediaId: string; file: SampleMedia }>;
  /** Sends an event (`enter_agent`, `click`, …). */
  sendEvent(event: string, options?: SendOptions & { eventKey?: string }): Promise<Exchange>;
  /** Sends any decrypted callback XML (see `./seal.ts` for builders). */
  sendPlaintext(xml: string, options?: SendOptions): Promise<Exchange>;
  /** A fresh MsgId, unique among all simulated users of this process. */
  nextMsgId(): string;
}

/** Message types that carry a file WeCom holds (`MediaId`). */
export type MediaMessageType = "image" | "voice" | "video";

const encoder = new TextEncoder();

/**
 * MsgIds are unique across a corp, so across every simulated user of this
 * process: one counter, from a base of the start time and a random offset.
 */
const MSG_ID_BASE = BigInt(Date.now()) * 1_000_000n +
  BigInt(crypto.getRandomValues(new Uint16Array(1))[0] % 1000) * 1000n;
let msgIdCounter = 0;

function describe(message: FakeMessage): string {
  const content = message.payload.content;
  if (typeof content === "string") return content;
  const mediaId = message.payload.media_id;
  return `[${message.msgtype}]${typeof mediaId === "string" ? ` media_id=${mediaId}` : ""}`;
}

function received(message: FakeMessage, startedAt: number): ReceivedMessage {
  const content = describe(message);
  return {
    msgtype: message.msgtype,
    content,
    bytes: encoder.encode(content).length,
    msgid: message.msgid,
    afterMs: Math.max(0, message.at - startedAt),
    recalled: message.recalled,
    truncated: message.truncated,
  };
}

/**
 * Creates a simulated member writing to `options.app` at `options.callbackUrl`.
 *
 * @example Usage
 * ```ts ignore
 * import { createSimulatedUser } from "./user.ts";
 * const user = await createSimulatedUser({ callbackUrl, app, api, settled });
 * const { posts, replies } = await user.send("hello", { times: 3 }); // WeCom's retries
 * console.assert(posts.length === 3 && replies.length === 1);
 * ```
 */
export async function createSimulatedUser(
  options: SimulatedUserOptions,
): Promise<SimulatedUser> {
  const { app, api, callbackUrl } = options;
  const userId = options.userId ?? "demo-user";
  const defaultTimeoutMs = options.timeoutMs ?? 10_000;
  const pollMs = options.pollMs ?? 20;
  const quietMs = options.quietMs ?? 300;
  const doFetch = options.fetch ?? fetch;
  const appCrypto: AppCrypto = await importAppCrypto(app.encodingAesKey, app.token, app.corpId);
  const party = { corpId: app.corpId, agentId: app.agentId, userId };
  const nextMsgId = () => String(MSG_ID_BASE + BigInt(msgIdCounter++));

  async function post(plaintext: string): Promise<number> {
    const sealed = await sealCallback(appCrypto, plaintext, party);
    const separator = callbackUrl.includes("?") ? "&" : "?";
    const url = `${callbackUrl}${separator}${sealed.query}`;
    const response = await doFetch(url, {
      method: "POST",
      headers: { "content-type": "text/xml" },
      body: sealed.body,
    });
    const body = await response.text();
    if (response.status !== 200) {
      throw new CallbackRejectedError(response.status, body, callbackUrl);
    }
    return response.status;
  }

  async function exchange(
    plaintext: string,
    msgId: string | undefined,
    sendOptions: SendOptions,
  ): Promise<Exchange> {
    const times = sendOptions.times ?? 1;
    if (!Number.isInteger(times) || times < 1) {
      throw new RangeError(
        `Cannot send a callback as 'times' must be a positive integer: current value is ${times}`,
      );
    }
    const timeoutMs = sendOptions.timeoutMs ?? defaultTimeoutMs;
    const before = api.delivered(userId).length;
    const startedAt = Date.now();
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const posts: PostResult[] = [];
    for (let i = 0; i < times; i++) {
      const status = await post(plaintext);
      posts.push({ status, afterMs: elapsed() });
    }
    const deadline = started + timeoutMs;
    const replies = () => api.delivered(userId).slice(before).map((m) => received(m, startedAt));
    let lastCount = 0;
    let lastChange = performance.now();
    while (true) {
      const count = api.delivered(userId).length - before;
      if (count !== lastCount) {
        lastCount = count;
        lastChange = performance.now();
      }
      const done = options.settled
        ? await options.settled(userId)
        : count > 0 && performance.now() - lastChange >= quietMs;
      if (done) return { msgId, posts, replies: replies(), totalMs: elapsed() };
      if (performance.now() >= deadline) {
        throw new ReplyTimeoutError(userId, timeoutMs, replies());
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  return {
    userId,
    nextMsgId,
    send(text, sendOptions = {}) {
      const msgId = sendOptions.msgId ?? nextMsgId();
      return exchange(textMessage({ ...party, content: text, msgId }), msgId, sendOptions);
    },
    sendImage(sendOptions = {}) {
      const msgId = sendOptions.msgId ?? nextMsgId();
      const mediaId = sendOptions.mediaId ?? `demo-media-${msgId}`;
      const picUrl = sendOptions.picUrl ??
        `https://wework.qpic.cn/wwpic/demo-${msgId}/0`;
      const xml = anyMessage({
        ...party,
        msgType: "image",
        fields: { PicUrl: picUrl, MediaId: mediaId, MsgId: msgId },
      });
      return exchange(xml, msgId, sendOptions);
    },
    async sendMedia(type, sendOptions = {}) {
      if (!api.addMedia) {
        throw new TypeError(
          "Cannot send a file the gateway can download: give the simulated user an api with addMedia",
        );
      }
      const file = sendOptions.file ?? demoMedia(type);
      const mediaId = api.addMedia(file.bytes, { ...file, type });
      const msgId = sendOptions.msgId ?? nextMsgId();
      const fields: Record<string, string> = type === "image"
        ? { PicUrl: `https://wework.qpic.cn/wwpic/demo-${msgId}/0`, MediaId: mediaId }
        : type === "voice"
        ? { MediaId: mediaId, Format: "amr" }
        : { MediaId: mediaId, ThumbMediaId: api.addMedia(demoMedia("image").bytes) };
      const xml = anyMessage({ ...party, msgType: type, fields: { ...fields, MsgId: msgId } });
      return { ...(await exchange(xml, msgId, sendOptions)), mediaId, file };
    },
    sendEvent(event, sendOptions = {}) {
      const xml = eventMessage({ ...party, event, eventKey: sendOptions.eventKey });
      return exchange(xml, undefined, sendOptions);
    },
    sendPlaintext(xml, sendOptions = {}) {
      return exchange(xml, sendOptions.msgId, sendOptions);
    },
  };
}

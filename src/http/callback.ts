/**
 * The WeCom callback endpoint: URL verification (GET) and encrypted messages (POST).
 *
 * Status codes (a contract, see DESIGN.md): `200` with an empty body once a
 * message is durably recorded, recognised as a duplicate or deliberately
 * ignored; `400` malformed; `403` forged signature, stale timestamp, wrong corp
 * or no such app; `408` body too slow; `413` over 64 KiB, or a decrypted
 * message too large to record in one KV value; `503` when KV could not record
 * the message (WeCom retries); `405` other methods.
 *
 * App choice for a POST on the shared path: apps named by the envelope's
 * `ToUserName`/`AgentID` are tried first, then the others; an app is taken when
 * its token verifies the signature and its key decrypts to its own corp id.
 * One misconfigured app never blocks the others.
 *
 * The app is then confirmed from the decrypted (signed) message, never from
 * the unsigned envelope or the path alone, before anything is recorded: its
 * `ToUserName` must be the app's corp id and its `AgentID`, when it carries
 * one (messages and the app events do; `batch_job_result`, `change_contact`
 * and WeCom's C# sample body do not), the app's AgentID. On the shared path
 * the app with the decrypted AgentID is taken (it must open the payload too),
 * so apps sharing a token and EncodingAESKey cannot be swapped. Refused with
 * 403 and a warning: an envelope `AgentID` other than the decrypted one, a
 * decrypted AgentID of no app this path serves (e.g. a callback of app A
 * replayed on `<path>/b`). Messages are deduplicated per corp and MsgId
 * (`../intake/record.ts`), so no app choice turns one message into two jobs.
 *
 * @module
 */

import type { AppConfig } from "../config/types.ts";
import {
  type AppCrypto,
  Base64Error,
  importAppCrypto,
  SignatureError,
  verifyAndDecrypt,
  WeComCryptoError,
} from "../crypto/mod.ts";
import { estimateValueBytes } from "../store/group_commit.ts";
import type { IntakeResult } from "../intake/record.ts";
import type { InboundMessage } from "../records/message.ts";
import { CallbackFormatError, parseEnvelope, parseMessage, XmlError } from "../intake/parse.ts";
import { log } from "../log.ts";
import { BodyError, readBody } from "./body.ts";
import { parseQuery } from "./query.ts";

/** An app with its imported keys, ready to verify and decrypt. */
export interface CallbackApp {
  config: AppConfig;
  crypto: AppCrypto;
}

/** Imports every app's keys once, at start. */
export async function prepareApps(apps: AppConfig[]): Promise<CallbackApp[]> {
  return await Promise.all(apps.map(async (config) => ({
    config,
    crypto: await importAppCrypto(config.encodingAesKey, config.token, config.corpId),
  })));
}

/** What happened to one callback, for metrics and tests. */
export interface CallbackObservation {
  method: "GET" | "POST";
  status: number;
  /** recorded | duplicate | refused | ignored | verified | the failure reason. */
  outcome: string;
  /** Milliseconds from the request to the response. */
  ms: number;
  app?: string;
  /** The request's path (the operator console tells which callback URL WeCom used). */
  path?: string;
  /** The crypto failure's code behind `decrypt_failed` (e.g. `receive_id_mismatch`). */
  detail?: string;
}

/** What {@linkcode createCallbackHandler} needs. */
export interface CallbackDeps {
  apps: CallbackApp[];
  /** Replay window in seconds; 0 turns the check off. */
  replayWindowSeconds: number;
  /** Records a decrypted message durably; throws when it cannot (→ 503). */
  intake: (app: AppConfig, message: InboundMessage, plaintext: string) => Promise<IntakeResult>;
  now?: () => number;
  /** Body size cap in bytes (default 64 KiB). */
  maxBodyBytes?: number;
  /** Deadline for the whole body to arrive (default 4 s: WeCom gives up at 5 s). */
  bodyTimeoutMs?: number;
  observe?: (observation: CallbackObservation) => void;
  /**
   * Marks a callback's work as urgent from the moment its body has arrived
   * until its response is ready; returns the function that ends the mark (the
   * gateway passes its priority gate's `urgent`, `src/priority_gate.ts`, so that
   * the job pipeline waits meanwhile). A body still arriving does not count:
   * a slow sender cannot hold replies back.
   */
  urgent?: () => () => void;
}

/** A failure with its HTTP status and a short reason (safe to show the caller). */
class Refusal extends Error {
  status: number;
  outcome: string;
  detail?: string;
  constructor(status: number, outcome: string, message: string, detail?: string) {
    super(message);
    this.status = status;
    this.outcome = outcome;
    this.detail = detail;
  }
}

let requestCounter = 0;
const requestPrefix = crypto.randomUUID().slice(0, 8);

/** A short id naming one callback in the logs: unique per process start. */
function nextRequestId(): string {
  return `${requestPrefix}-${(++requestCounter).toString(36)}`;
}

const TEXT_HEADERS = { "content-type": "text/plain; charset=utf-8" };

/**
 * Largest decrypted message (estimated stored bytes) that is recorded. A job
 * record holds the message and must fit in one KV value (64 KiB); a message
 * of mostly ASCII text with one CJK character is stored as UTF-16, twice its
 * UTF-8 size, so a body under the 64 KiB cap can still decrypt to more.
 * Refused with 413 (retrying cannot help) rather than a 503 from KV.
 */
const MAX_MESSAGE_RECORD_BYTES = 60 * 1024;

function signedQuery(url: URL, now: number, windowSeconds: number) {
  const query = parseQuery(url.search);
  const signature = query.get("msg_signature");
  const timestamp = query.get("timestamp");
  const nonce = query.get("nonce");
  if (!signature || !timestamp || nonce === undefined) {
    throw new Refusal(
      400,
      "missing_query",
      "The query must carry msg_signature, timestamp and nonce, as WeCom sends them.",
    );
  }
  if (!/^\d{1,12}$/.test(timestamp)) {
    throw new Refusal(400, "bad_timestamp", "The timestamp must be whole seconds.");
  }
  if (windowSeconds > 0 && Math.abs(now / 1000 - Number(timestamp)) > windowSeconds) {
    throw new Refusal(
      403,
      "stale_timestamp",
      `The timestamp is more than ${windowSeconds} s away from this server's clock; ` +
        "check the server's time (NTP) or raise replay_window_seconds.",
    );
  }
  return { query, signature, timestamp, nonce };
}

/**
 * Confirms the app of a decrypted message from its signed AgentID (see the
 * module doc): returns the app to record it for, or throws a 403 refusal.
 * `opened` is the app whose keys opened the payload; `candidates` the apps the
 * path serves.
 */
async function confirmApp(
  requestId: string,
  opened: CallbackApp,
  candidates: CallbackApp[],
  message: InboundMessage,
  envelopeAgentId: string,
  sealed: { signature: string; timestamp: string; nonce: string; ciphertext: string },
): Promise<CallbackApp> {
  const agentId = message.agentId;
  // Without a signed AgentID (some events) the keys that opened it are all there is to go by.
  if (agentId === "") return opened;
  if (envelopeAgentId !== "" && envelopeAgentId !== agentId) {
    throw agentMismatch(requestId, opened, envelopeAgentId, agentId, "envelope");
  }
  if (agentId === opened.config.agentId) return opened;
  const named = candidates.find((app) =>
    app.config.corpId === message.corpId && app.config.agentId === agentId
  );
  if (named) {
    try {
      await verifyAndDecrypt(named.crypto, sealed);
      return named;
    } catch (error) {
      if (!(error instanceof WeComCryptoError)) throw error;
    }
  }
  throw agentMismatch(requestId, opened, envelopeAgentId, agentId, "path");
}

/** Logs and builds the 403 for a decrypted AgentID that does not confirm the app. */
function agentMismatch(
  requestId: string,
  opened: CallbackApp,
  envelopeAgentId: string,
  agentId: string,
  where: "envelope" | "path",
): Refusal {
  log.warn(
    where === "envelope"
      ? "callback refused: the envelope's AgentID is not the one in the signed message " +
        "(a tampered or replayed callback)"
      : "callback refused: the signed message is for an app this callback path does not serve " +
        "(a callback replayed on another app's path, or an app missing from the configuration)",
    {
      requestId,
      app: opened.config.name,
      corpId: opened.config.corpId,
      envelopeAgentId: envelopeAgentId.slice(0, 40),
      messageAgentId: agentId.slice(0, 40),
    },
  );
  return new Refusal(
    403,
    "agent_mismatch",
    "The message's AgentID does not match the app it was sent to.",
  );
}

/**
 * Returns the handler for requests on the callback path (`candidates` are the
 * apps that path serves: all of them on the shared path, one on `<path>/<name>`).
 */
export function createCallbackHandler(
  deps: CallbackDeps,
): (request: Request, url: URL, candidates: CallbackApp[]) => Promise<Response> {
  const now = deps.now ?? Date.now;
  const maxBodyBytes = deps.maxBodyBytes ?? 64 * 1024;
  const bodyTimeoutMs = deps.bodyTimeoutMs ?? 4000;

  /** Verifies and decrypts `payload` with the first app that accepts it. */
  const open = async (
    requestId: string,
    ordered: CallbackApp[],
    signed: { signature: string; timestamp: string; nonce: string },
    payload: string,
  ): Promise<{ app: CallbackApp; message: string }> => {
    let failure: WeComCryptoError | undefined;
    let verified = false;
    for (const app of ordered) {
      try {
        const opened = await verifyAndDecrypt(app.crypto, { ...signed, ciphertext: payload });
        return { app, message: opened.message };
      } catch (error) {
        if (error instanceof SignatureError) continue;
        if (!(error instanceof WeComCryptoError)) throw error;
        verified = true;
        failure = error;
      }
    }
    if (!verified) {
      throw new Refusal(
        403,
        "bad_signature",
        "The signature does not match any configured app's token.",
      );
    }
    if (failure instanceof Base64Error) throw new Refusal(400, "bad_base64", failure.message);
    log.warn(
      "callback signature verified but decryption failed: check encoding_aes_key and corp_id of the app",
      { requestId, error: failure?.name, code: failure?.sdkCode },
    );
    throw new Refusal(
      403,
      "decrypt_failed",
      "The message could not be decrypted for this corp: check EncodingAESKey and CorpID.",
      failure?.code,
    );
  };

  const verifyUrl = async (
    requestId: string,
    url: URL,
    candidates: CallbackApp[],
  ): Promise<Response> => {
    const signed = signedQuery(url, now(), deps.replayWindowSeconds);
    const echostr = signed.query.get("echostr");
    if (!echostr) {
      throw new Refusal(400, "missing_echostr", "URL verification needs an echostr parameter.");
    }
    const { app, message } = await open(requestId, candidates, signed, echostr);
    log.info("URL verification answered", { requestId, app: app.config.name });
    deps.observe?.({
      method: "GET",
      status: 200,
      outcome: "verified",
      ms: 0,
      app: app.config.name,
      path: url.pathname,
    });
    return new Response(message, { status: 200, headers: TEXT_HEADERS });
  };

  const receive = async (
    requestId: string,
    request: Request,
    url: URL,
    candidates: CallbackApp[],
  ): Promise<{ response: Response; outcome: string; app: string }> => {
    const signed = signedQuery(url, now(), deps.replayWindowSeconds);
    let body: string;
    try {
      body = await readBody(request, maxBodyBytes, bodyTimeoutMs);
    } catch (error) {
      if (error instanceof BodyError) {
        throw new Refusal(error.status, `body_${error.status}`, error.message);
      }
      throw error;
    }
    // The body is here: what follows costs the thread, and background work waits for it.
    const done = deps.urgent?.();
    try {
      return await handleBody(requestId, candidates, signed, body);
    } finally {
      done?.();
    }
  };

  const handleBody = async (
    requestId: string,
    candidates: CallbackApp[],
    signed: ReturnType<typeof signedQuery>,
    body: string,
  ): Promise<{ response: Response; outcome: string; app: string }> => {
    let envelope;
    try {
      envelope = parseEnvelope(body);
    } catch (error) {
      if (error instanceof XmlError || error instanceof CallbackFormatError) {
        throw new Refusal(400, "bad_envelope", error.message);
      }
      throw error;
    }
    let ordered = candidates;
    if (candidates.length > 1 && (envelope.toUserName || envelope.agentId)) {
      const hinted = (app: CallbackApp) =>
        (!envelope.toUserName || app.config.corpId === envelope.toUserName) &&
        (!envelope.agentId || app.config.agentId === envelope.agentId);
      ordered = [...candidates.filter(hinted), ...candidates.filter((app) => !hinted(app))];
    }
    const opened = await open(requestId, ordered, signed, envelope.encrypt);
    let app = opened.app;
    const plaintext = opened.message;
    let message: InboundMessage;
    try {
      message = parseMessage(plaintext);
    } catch (error) {
      if (error instanceof XmlError || error instanceof CallbackFormatError) {
        throw new Refusal(
          400,
          "bad_message",
          `The decrypted message is malformed: ${error.message}`,
        );
      }
      throw error;
    }
    if (message.corpId !== app.config.corpId) {
      throw new Refusal(403, "wrong_corp", "The message is addressed to another corp.");
    }
    app = await confirmApp(requestId, app, candidates, message, envelope.agentId, {
      ...signed,
      ciphertext: envelope.encrypt,
    });
    if (estimateValueBytes(message) > MAX_MESSAGE_RECORD_BYTES) {
      throw new Refusal(
        413,
        "message_too_large",
        `The decrypted message is too large to record (over ${
          MAX_MESSAGE_RECORD_BYTES / 1024
        } KiB stored); WeCom's messages are far smaller.`,
      );
    }
    let result: IntakeResult;
    try {
      result = await deps.intake(app.config, message, plaintext);
    } catch (error) {
      log.error("cannot record the message; answering 503 so that WeCom retries", {
        requestId,
        app: app.config.name,
        error: (error as Error).message,
      });
      throw new Refusal(503, "store_failed", "The message could not be stored; retry later.");
    }
    const fields = {
      requestId,
      app: app.config.name,
      conversation: result.conversation,
      type: message.type === "event" ? `event:${message.event}` : message.type,
      job: result.jobId,
    };
    if (result.outcome === "refused") {
      log.warn(
        `message refused: '${result.conversation}' is not allowed; add it to WECOM_CALLBACK_ALLOWED_USERS`,
        fields,
      );
    } else log.info(`callback ${result.outcome}`, fields);
    return {
      response: new Response(null, { status: 200 }),
      outcome: result.outcome,
      app: fields.app,
    };
  };

  return async (request, url, candidates) => {
    const started = performance.now();
    const method = request.method;
    const requestId = nextRequestId();
    try {
      if (method === "GET") return await verifyUrl(requestId, url, candidates);
      if (method !== "POST") {
        await request.body?.cancel().catch(() => {});
        return new Response("Only GET (URL verification) and POST (messages) are accepted.\n", {
          status: 405,
          headers: { ...TEXT_HEADERS, allow: "GET, POST" },
        });
      }
      const { response, outcome, app } = await receive(requestId, request, url, candidates);
      deps.observe?.({ method, status: 200, outcome, ms: performance.now() - started, app });
      return response;
    } catch (error) {
      let refusal: Refusal;
      if (error instanceof Refusal) refusal = error;
      else {
        log.error("callback failed unexpectedly", {
          requestId,
          error: (error as Error).message,
        });
        refusal = new Refusal(500, "internal", "Internal error.");
      }
      if (refusal.status !== 503 && refusal.status !== 500) {
        log.warn(`callback refused: ${refusal.message}`, {
          requestId,
          status: refusal.status,
          method,
        });
      }
      if (!request.bodyUsed) await request.body?.cancel().catch(() => {});
      deps.observe?.({
        method: method === "GET" ? "GET" : "POST",
        status: refusal.status,
        outcome: refusal.outcome,
        ms: performance.now() - started,
        path: url.pathname,
        detail: refusal.detail,
      });
      return new Response(refusal.message + "\n", {
        status: refusal.status,
        headers: TEXT_HEADERS,
      });
    }
  };
}

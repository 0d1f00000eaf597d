/**
 * One agent run for one job: request in, reply out, history kept.
 *
 * Builds the {@linkcode AgentRequest} from the job (text via `agentText`),
 * after fetching the message's files (image, voice, video: downloaded into
 * the attachment store and transcribed here, in the job, never before WeCom's
 * 200), runs it on the pool, writes attachments the agent returned as data
 * into the store. For the openai and hermes backends it adds the opaque
 * session and member ids (`./session_ids.ts`) and the job's deadline (their
 * retries stop there; `agent.timeout_seconds` bounds the whole job, media
 * download included). For the openai backend it keeps
 * the conversation history at `keys.history(conversation)`: loaded before the
 * run, and after it the user and assistant turns appended, oldest turns
 * dropped so the content stays within `historyMaxBytes` (and the KV value
 * well under its 64 KiB limit), saved with an atomic check on the
 * versionstamp (re-read and retried on conflict). `/reset` calls
 * {@linkcode resetHistory}.
 *
 * @example Usage
 * ```ts ignore
 * import { runAgentForJob } from "./run.ts";
 * const reply = await runAgentForJob({ kv, pool, config: config.agent }, job, signal);
 * ```
 *
 * @module
 */

import type { AgentConfig } from "../config/types.ts";
import type { JobRecord } from "../records/job.ts";
import type { AgentReply, AgentRequest, HistoryTurn, ReplyAttachment } from "../records/agent.ts";
import type { AgentPool } from "./pool.ts";
import { keys } from "../store/keys.ts";
import { commit } from "../store/kv.ts";
import { log } from "../log.ts";
import { agentText, type MediaFacts } from "../records/describe.ts";
import { agentSession, bumpEpoch } from "./session_ids.ts";

/** What {@linkcode runAgentForJob} needs. */
export interface AgentRunDeps {
  kv: Deno.Kv;
  pool: AgentPool;
  config: AgentConfig;
  /** Fetches the message's files before the run (`createInboundMedia` of src/media/inbound.ts). */
  fetchMedia?: (job: JobRecord, signal: AbortSignal) => Promise<MediaFacts>;
  /** Added to every request (`platformHint()` of `./platform_hint.ts`); empty or absent: none. */
  platformHint?: string;
  /**
   * Writes attachments the agent returned as data into the attachment store and
   * returns them as paths (`storeReplyFiles` of src/attachments/store.ts).
   */
  storeReplyData?: (job: JobRecord, attachments: ReplyAttachment[]) => Promise<ReplyAttachment[]>;
}

/** What besides the job and history goes into a request. */
export interface AgentRequestExtras {
  /** The message's downloaded files and why some are missing. */
  media?: MediaFacts;
  platformHint?: string;
}

/** Upper bound of the stored history value (estimated V8-serialized size); KV allows 64 KiB. */
export const MAX_HISTORY_VALUE_BYTES = 60 * 1024;

/** Attempts to save the history when other writers keep changing it. */
const SAVE_ATTEMPTS = 10;

/**
 * Builds the agent's input for `job` with the given history.
 *
 * @example Usage
 * ```ts
 * import { buildAgentRequest } from "./run.ts";
 * import type { JobRecord } from "../records/job.ts";
 * const job = {
 *   id: "j1", conversation: "ww1:zhang", app: "default", corpId: "ww1", agentId: "1000002",
 *   userId: "zhang",
 *   message: { type: "text", content: "hi", corpId: "ww1", userId: "zhang", createTime: 1,
 *     agentId: "1000002", msgId: "1" },
 * } as JobRecord;
 * console.assert(buildAgentRequest(job, []).text === "hi");
 * ```
 */
export function buildAgentRequest(
  job: JobRecord,
  history: HistoryTurn[],
  extras: AgentRequestExtras = {},
): AgentRequest {
  const media = extras.media ?? {};
  const request: AgentRequest = {
    jobId: job.id,
    conversation: job.conversation,
    app: job.app,
    corpId: job.corpId,
    agentId: job.agentId,
    userId: job.userId,
    text: agentText(job.message, media),
    message: job.message,
    history,
  };
  if (media.attachments && media.attachments.length > 0) {
    request.attachments = [...media.attachments];
  }
  if (media.errors && media.errors.length > 0) request.mediaErrors = [...media.errors];
  if (extras.platformHint) request.platformHint = extras.platformHint;
  return request;
}

/**
 * Runs the agent for `job` and returns its reply; rejects with an `AgentError`
 * subclass (from the pool) when the run fails. History is kept for the openai
 * backend only; a failure to save it is logged, not thrown (the reply still
 * goes out).
 *
 * @example Usage
 * ```ts ignore
 * import { runAgentForJob } from "./run.ts";
 * const reply = await runAgentForJob({ kv, pool, config: config.agent }, job, signal);
 * ```
 */
export async function runAgentForJob(
  deps: AgentRunDeps,
  job: JobRecord,
  signal: AbortSignal,
): Promise<AgentReply> {
  const { kv, pool, config } = deps;
  const deadlineAt = Date.now() + config.timeoutMs;
  const keepHistory = config.kind === "openai" && (config.openai?.historyMaxBytes ?? 0) > 0;
  const history = keepHistory ? await loadHistory(kv, job.conversation) : [];
  const media = deps.fetchMedia ? await deps.fetchMedia(job, signal) : {};
  const request = buildAgentRequest(job, history, { media, platformHint: deps.platformHint });
  if (config.kind === "openai" || config.kind === "hermes") {
    request.session = await agentSession(kv, job.conversation, {
      revealIds: config.hermes?.revealIds === true,
    });
    request.deadlineAt = deadlineAt;
  }
  const reply = await pool.run(request, {
    signal,
    timeoutMs: Math.max(1, deadlineAt - Date.now()),
  });
  if (deps.storeReplyData && reply.attachments.some((file) => file.data !== undefined)) {
    reply.attachments = await deps.storeReplyData(job, reply.attachments);
  }
  if (keepHistory) {
    try {
      await appendHistory(kv, job.conversation, [
        { role: "user", content: request.text },
        { role: "assistant", content: reply.text },
      ], config.openai.historyMaxBytes);
    } catch (error) {
      log.warn("could not save the conversation history; the next answer lacks this turn", {
        jobId: job.id,
        conversation: job.conversation,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
  return reply;
}

/**
 * Returns the stored history of `conversation`, oldest first (empty when none).
 *
 * @example Usage
 * ```ts
 * import { loadHistory } from "./run.ts";
 * const kv = await Deno.openKv(":memory:");
 * console.assert((await loadHistory(kv, "ww1:zhang")).length === 0);
 * kv.close();
 * ```
 */
export async function loadHistory(kv: Deno.Kv, conversation: string): Promise<HistoryTurn[]> {
  const entry = await kv.get<HistoryTurn[]>(keys.history(conversation));
  return validTurns(entry.value);
}

/**
 * Appends `turns` to the stored history of `conversation`, trimmed by
 * {@linkcode trimHistory}, with an atomic check (re-read and retry on conflict).
 *
 * @example Usage
 * ```ts
 * import { appendHistory, loadHistory } from "./run.ts";
 * const kv = await Deno.openKv(":memory:");
 * await appendHistory(kv, "ww1:zhang", [{ role: "user", content: "hi" }], 1000);
 * console.assert((await loadHistory(kv, "ww1:zhang")).length === 1);
 * kv.close();
 * ```
 */
export async function appendHistory(
  kv: Deno.Kv,
  conversation: string,
  turns: HistoryTurn[],
  maxBytes: number,
): Promise<void> {
  const key = keys.history(conversation);
  for (let attempt = 1; attempt <= SAVE_ATTEMPTS; attempt++) {
    const entry = await kv.get<HistoryTurn[]>(key);
    const next = trimHistory([...validTurns(entry.value), ...turns], maxBytes);
    const result = await commit(() => {
      const op = kv.atomic().check(entry);
      return next.length > 0 ? op.set(key, next) : op.delete(key);
    });
    if (result.ok) return;
  }
  throw new Error(
    `Cannot save the conversation history: it changed under us ${SAVE_ATTEMPTS} times in a row. ` +
      "Another process may be writing the same conversation.",
  );
}

/**
 * Keeps the most recent turns whose content fits in `maxBytes` UTF-8 bytes
 * (and whose stored value stays under {@linkcode MAX_HISTORY_VALUE_BYTES}),
 * starting with a user turn. A turn too big on its own is dropped.
 *
 * @example Usage
 * ```ts
 * import { trimHistory } from "./run.ts";
 * const turns = [
 *   { role: "user" as const, content: "aaaa" },
 *   { role: "assistant" as const, content: "bbbb" },
 *   { role: "user" as const, content: "cc" },
 *   { role: "assistant" as const, content: "dd" },
 * ];
 * console.assert(trimHistory(turns, 8).length === 2);
 * ```
 */
export function trimHistory(turns: HistoryTurn[], maxBytes: number): HistoryTurn[] {
  let bytes = 0;
  let stored = 16;
  for (const turn of turns) {
    bytes += utf8Length(turn.content);
    stored += storedSize(turn);
  }
  let start = 0;
  while (start < turns.length && (bytes > maxBytes || stored > MAX_HISTORY_VALUE_BYTES)) {
    bytes -= utf8Length(turns[start].content);
    stored -= storedSize(turns[start]);
    start++;
  }
  while (start < turns.length && turns[start].role !== "user") start++;
  return turns.slice(start);
}

/**
 * Deletes the stored history of `conversation` and bumps its epoch, so agents
 * that keep their own history (Hermes) get a new session id (the `/reset`
 * command).
 *
 * @example Usage
 * ```ts
 * import { appendHistory, loadHistory, resetHistory } from "./run.ts";
 * const kv = await Deno.openKv(":memory:");
 * await appendHistory(kv, "ww1:zhang", [{ role: "user", content: "hi" }], 1000);
 * await resetHistory(kv, "ww1:zhang");
 * console.assert((await loadHistory(kv, "ww1:zhang")).length === 0);
 * kv.close();
 * ```
 */
export async function resetHistory(kv: Deno.Kv, conversation: string): Promise<void> {
  for (let attempt = 1; attempt <= SAVE_ATTEMPTS; attempt++) {
    const epoch = await kv.get<number>(keys.conversationEpoch(conversation));
    const result = await commit(() =>
      bumpEpoch(kv.atomic().delete(keys.history(conversation)), epoch, conversation)
    );
    if (result.ok) return;
  }
  throw new Error(
    `Cannot reset the conversation: its epoch changed under us ${SAVE_ATTEMPTS} times in a row. ` +
      "Send /reset again.",
  );
}

function validTurns(value: unknown): HistoryTurn[] {
  if (!Array.isArray(value)) return [];
  return value.filter((turn): turn is HistoryTurn =>
    (turn?.role === "user" || turn?.role === "assistant") && typeof turn?.content === "string"
  );
}

/** UTF-8 length of `text` without encoding it. */
function utf8Length(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) length += 1;
    else if (code < 0x800) length += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      length += 4;
      i++;
    } else length += 3;
  }
  return length;
}

/**
 * Upper estimate of a turn's share of the V8-serialized value: V8 stores a
 * string with any character above U+00FF as two bytes per UTF-16 unit.
 */
function storedSize(turn: HistoryTurn): number {
  // deno-lint-ignore no-control-regex
  const wide = /[^\u0000-\u00ff]/.test(turn.content);
  return 48 + (wide ? 2 : 1) * turn.content.length;
}

/**
 * Recording an inbound message durably: the step between "decrypted" and "200".
 *
 * One atomic KV commit writes the dedupe marker, the job record and the
 * wake-up (concurrent callbacks share one commit: `../store/group_commit.ts`). Only
 * when it has committed may the callback be acknowledged; if KV
 * fails the error propagates and the HTTP layer answers 503 so that WeCom
 * retries. A message from a member who is not allowed never becomes a job; the
 * member may get a short notice (at most one per `refusalNoticeSeconds`).
 *
 * Events: menu clicks go to the agent; `subscribe` and `enter_agent` may queue
 * the welcome text in the same commit (`./events.ts`), without the agent;
 * every other event is acknowledged and logged. Location messages and events
 * also record which client the member uses (markdown fallback).
 *
 * @module
 */

import type { AccessConfig, AppConfig } from "../config/types.ts";
import { addOutboxItems, planNotice } from "../records/outbox.ts";
import { enqueueJob } from "../records/job_store/mod.ts";
import type { JobRecord } from "../records/job.ts";
import { keys } from "../store/keys.ts";
import { commit } from "../store/kv.ts";
import { newId } from "../store/id.ts";
import { createAccessCheck } from "../config/access.ts";
import { DEDUPE_TTL_MS, messageKey } from "./dedupe.ts";
import { type Commit, createGroupCommit, type GroupCommitOptions } from "../store/group_commit.ts";
import type { InboundMessage } from "../records/message.ts";
import type { WelcomeConfig } from "../config/types.ts";
import { log } from "../log.ts";
import { planWelcome } from "./events.ts";
import { addClientKind } from "../records/client_kind.ts";

/** What became of a callback. */
export type IntakeOutcome = "recorded" | "duplicate" | "refused" | "ignored";

/** The result of {@linkcode recordMessage}. */
export interface IntakeResult {
  outcome: IntakeOutcome;
  /** The job created (outcome "recorded") or found (outcome "duplicate", when known). */
  jobId?: string;
  /** `corp_id:user_id` of the sender. */
  conversation: string;
  /** True when a notice (the welcome) was queued for the sender without a job. */
  notified?: boolean;
}

/** What {@linkcode createIntake} needs. */
export interface IntakeDeps {
  kv: Deno.Kv;
  access: AccessConfig;
  now?: () => number;
  /** Called after a job was committed (in-process wake-up of the runner). */
  onJob?: (jobId: string) => void;
  /** The welcome sent on `subscribe` / `enter_agent` (default: none). */
  welcome?: WelcomeConfig;
  /**
   * Combine the commits of concurrent callbacks (see `../store/group_commit.ts`):
   * `true` (the default), `false` or its options. The gateway passes its one
   * committer as `commit` instead, built from `gateway.group_commit`.
   */
  groupCommit?: boolean | GroupCommitOptions;
  /** A committer shared with the rest of the process (takes precedence over `groupCommit`). */
  commit?: Commit;
}

/** Value of a dedupe marker. */
interface DedupeMarker {
  expiresAt: number;
  jobId: string;
}

/** Events that are answered by the agent; the rest are acknowledged and logged. */
const AGENT_EVENTS = new Set(["click"]);

/**
 * Whether a message goes to the agent. User messages and unknown types do (the
 * agent tells the user what it cannot handle); of the events only menu clicks.
 */
export function isForAgent(message: InboundMessage): boolean {
  return message.type !== "event" || AGENT_EVENTS.has(message.event);
}

/** Logs an acknowledged event that does not reach the agent (ids only, no content). */
function logEvent(app: AppConfig, message: InboundMessage, welcomed: boolean): void {
  const fields = {
    app: app.name,
    conversation: `${message.corpId}:${message.userId}`,
    event: message.type === "event" ? message.event : message.type,
  };
  if (message.type === "event" && message.event === "unsubscribe") {
    log.info("member left the app's visible range (unsubscribe); nothing to answer", fields);
  } else if (welcomed) {
    log.info("event acknowledged; welcome queued", fields);
  } else {
    log.info("event acknowledged", fields);
  }
}

/**
 * Returns the intake function for one process: `(app, message, plaintext)` →
 * the outcome, once it is durable.
 *
 * @example Usage
 * ```ts ignore
 * const intake = createIntake({ kv, access: config.access, onJob: () => runner.wake() });
 * const result = await intake(app, message, plaintext); // { outcome: "recorded", jobId }
 * ```
 */
export function createIntake(
  deps: IntakeDeps,
): (app: AppConfig, message: InboundMessage, plaintext: string) => Promise<IntakeResult> {
  const { kv, access } = deps;
  const now = deps.now ?? Date.now;
  const isAllowed = createAccessCheck(access);
  const grouping = deps.groupCommit ?? true;
  const group = deps.commit ??
    (grouping
      ? createGroupCommit(kv, grouping === true ? {} : grouping)
      : (build: (op: Deno.AtomicOperation) => Deno.AtomicOperation) =>
        commit(() => build(kv.atomic())));

  const refuse = async (app: AppConfig, message: InboundMessage, conversation: string) => {
    if (access.refusalNoticeSeconds <= 0 || !isForAgent(message)) return;
    const key = keys.refusalNotice(message.corpId, message.userId);
    const last = await kv.get<{ at: number }>(key);
    const at = now();
    if (last.value && at - last.value.at < access.refusalNoticeSeconds * 1000) return;
    const notice = planNotice(
      { conversation, app: app.name, userId: message.userId, jobId: "" },
      access.refusalNoticeText,
      "notice",
    );
    await commit(() =>
      addOutboxItems(
        kv.atomic().check(last).set(key, { at }, {
          expireIn: access.refusalNoticeSeconds * 1000,
        }),
        [notice],
      )
    );
  };

  return async (app, message, plaintext) => {
    const conversation = `${message.corpId}:${message.userId}`;
    if (!isAllowed(message.corpId, message.userId)) {
      await refuse(app, message, conversation);
      return { outcome: "refused", conversation };
    }
    const at = now();
    const dedupeKey = keys.dedupe(message.corpId, await messageKey(message, plaintext));
    const forAgent = isForAgent(message);
    const job: JobRecord = {
      id: newId(at),
      conversation,
      app: app.name,
      corpId: app.corpId,
      agentId: app.agentId,
      userId: message.userId,
      message,
      receivedAt: at,
      state: "queued",
      attempts: 0,
      updatedAt: at,
    };
    const marker: DedupeMarker = { expiresAt: at + DEDUPE_TTL_MS, jobId: forAgent ? job.id : "" };
    let versionstamp: string | null = null;
    for (let round = 0; round < 4; round++) {
      const expected = versionstamp;
      // Read afresh each round: a lost check may have been the welcome key's.
      const welcome = deps.welcome ? await planWelcome(kv, app, message, deps.welcome, at) : null;
      const result = await group((atomic) => {
        const op = atomic
          .check({ key: dedupeKey, versionstamp: expected })
          .set(dedupeKey, marker, { expireIn: DEDUPE_TTL_MS });
        welcome?.add(op);
        addClientKind(op, message, at);
        return forAgent ? enqueueJob(op, job, { by: "intake" }) : op;
      });
      if (result.ok) {
        if (!forAgent) {
          logEvent(app, message, welcome !== null);
          return welcome
            ? { outcome: "ignored", conversation, notified: true }
            : { outcome: "ignored", conversation };
        }
        deps.onJob?.(job.id);
        return { outcome: "recorded", jobId: job.id, conversation };
      }
      const existing = await kv.get<DedupeMarker>(dedupeKey);
      if (existing.value && existing.value.expiresAt > at) {
        return { outcome: "duplicate", jobId: existing.value.jobId || undefined, conversation };
      }
      versionstamp = existing.versionstamp;
    }
    throw new Error(
      "Cannot record the message: its dedupe marker kept changing during the commit; WeCom will retry.",
    );
  };
}

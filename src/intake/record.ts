/**
 * Recording an inbound message durably: the step between "decrypted" and "200".
 *
 * One atomic KV commit writes the dedupe marker, the job record and the
 * wake-up. Only when it has committed may the callback be acknowledged; if KV
 * fails the error propagates and the HTTP layer answers 503 so that WeCom
 * retries. A message from a member who is not allowed never becomes a job; the
 * member may get a short notice (at most one per `refusalNoticeSeconds`).
 *
 * @module
 */

import type { AccessConfig, AppConfig } from "../config/types.ts";
import { addOutboxItems, planNotice } from "../delivery/outbox.ts";
import { enqueueJob } from "../jobs/store.ts";
import type { JobRecord } from "../jobs/types.ts";
import { keys } from "../store/keys.ts";
import { commit } from "../store/kv.ts";
import { newId } from "../store/id.ts";
import { createAccessCheck } from "./access.ts";
import { DEDUPE_TTL_MS, messageKey } from "./dedupe.ts";
import type { InboundMessage } from "./message.ts";

/** What became of a callback. */
export type IntakeOutcome = "recorded" | "duplicate" | "refused" | "ignored";

/** The result of {@linkcode recordMessage}. */
export interface IntakeResult {
  outcome: IntakeOutcome;
  /** The job created (outcome "recorded") or found (outcome "duplicate", when known). */
  jobId?: string;
  /** `corp_id:user_id` of the sender. */
  conversation: string;
}

/** What {@linkcode createIntake} needs. */
export interface IntakeDeps {
  kv: Deno.Kv;
  access: AccessConfig;
  now?: () => number;
  /** Called after a job was committed (in-process wake-up of the runner). */
  onJob?: (jobId: string) => void;
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
    const dedupeKey = keys.dedupe(app.corpId, app.agentId, await messageKey(message, plaintext));
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
      const result = await commit(() => {
        const op = kv.atomic()
          .check({ key: dedupeKey, versionstamp: expected })
          .set(dedupeKey, marker, { expireIn: DEDUPE_TTL_MS });
        return forAgent ? enqueueJob(op, job) : op;
      });
      if (result.ok) {
        if (!forAgent) return { outcome: "ignored", conversation };
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

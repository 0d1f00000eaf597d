/**
 * The outbox: every message the gateway owes a user, persisted until WeCom has it.
 *
 * The job runner adds items in the same atomic commit that marks its job done
 * (`addOutboxItems()` in `./outbox.ts`); the delivery loop sends them per
 * conversation in `seq` order, paced and retried, and moves items that cannot be
 * delivered to the dead letters.
 *
 * @module
 */

import type { MediaKind, OutboundMessage } from "../wecom/types.ts";

/**
 * A file to send: uploaded (`media/upload`) when the item is due, since media
 * ids live only 3 days, then sent as `kind` (or as a file when WeCom would
 * refuse it as that kind). A file that cannot be sent at all goes out as a
 * short text saying so (`./prepare.ts`).
 */
export interface MediaMessage {
  msgtype: "media";
  /** Path of the file on the gateway's machine; never shown to users. */
  path: string;
  /** The name users see. */
  filename: string;
  /** The type asked for; absent: judged from the file. */
  kind?: MediaKind;
  /** Set once uploaded, so a resend uses the same media id (and WeCom's duplicate check). */
  uploaded?: { mediaId: string; kind: MediaKind; at: number };
}

/** Where an outbox item stands. */
export type OutboxState = "pending" | "sent" | "dead";

/** One message to one member, as stored at `keys.outbox(id)`. */
export interface OutboxItem {
  /** Time-ordered unique id; within a conversation, sending order is id order. */
  id: string;
  /** `corp_id:user_id`. */
  conversation: string;
  /** App name (from the job record): the reply goes out through this app. */
  app: string;
  userId: string;
  /** The job this item answers (empty for notices not tied to a job). */
  jobId: string;
  /** What the item is, for logs and status: a reply chunk, a notice, a recall. */
  purpose: "reply" | "notice" | "working" | "recall" | "error";
  message: OutboundMessage | { msgtype: "recall"; ofItem: string } | MediaMessage;
  state: OutboxState;
  /** Send attempts made. */
  attempts: number;
  /** Epoch ms before which the item must not be sent (backoff, pacing). */
  notBefore: number;
  createdAt: number;
  /** WeCom msgid once sent (for recall). */
  msgId?: string;
  /** Last error, e.g. "errcode 60020: …"; never message content. */
  lastError?: string;
  /**
   * Epoch ms until which one sender holds the item (a send is in flight). A
   * sender that crashed leaves it behind; once it is past, the item is due
   * again and is resent with the duplicate check.
   */
  inFlightUntil?: number;
  /**
   * An earlier send may have reached WeCom without our knowing (a timeout, a
   * lost connection, a crash mid-send): the next send waits until such a copy
   * has landed (the end of its lease), so that WeCom's duplicate check, on every
   * send, recognises the resend. A send WeCom answered with an error is known
   * not to have been delivered and does not set it.
   */
  uncertain?: boolean;
  /** Epoch ms of the first send attempt: the retry window (`retryWindowMs`) runs from here. */
  firstAttemptAt?: number;
  /** Epoch ms of the latest send attempt. */
  lastAttemptAt?: number;
  /**
   * Which copy of an identical text this item is (`./duplicate_check.ts`): 0 for
   * the first one sent to this member within the duplicate-check interval, n for
   * the n-th identical one after it, which gets an invisible suffix so that
   * WeCom's duplicate check does not take it for a resend. Fixed at the first
   * attempt, so that every resend of the item is the very same request.
   */
  variant?: number;
  /** Why the item became a dead letter (set with `state: "dead"`, except for cancels). */
  deadReason?: DeadReason;
}

/**
 * Why an item became a dead letter, for the operator (`jobs dead`):
 *
 * - `permanent`: WeCom refused the request for good (81013 member gone, 40003
 *   unknown user, 86xxx content errors, …): retrying cannot help.
 * - `credentials`: WeCom refused the app's corp id or secret.
 * - `window`: WeCom kept failing (busy, rate limit, HTTP 5xx, network) for the
 *   whole retry window.
 * - `app_missing`: the item's app is no longer configured.
 */
export interface DeadReason {
  cause: "permanent" | "credentials" | "window" | "app_missing";
  /** WeCom's errcode of the last failure; absent when WeCom gave none (HTTP status, network). */
  errcode?: number;
  /** HTTP status of the last failure, when it was one. */
  httpStatus?: number;
  /** What the last failure means and what to do (never message content). */
  meaning: string;
  attempts: number;
  /** Epoch ms of the first and the last send attempt (absent when none was made). */
  firstAttemptAt?: number;
  lastAttemptAt?: number;
  /** The retry window in force, ms (cause `window`). */
  windowMs?: number;
  /** Epoch ms when the item was given up. */
  at: number;
}

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
  /** Send attempts made; > 0 means a later send must use the duplicate check. */
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
   * lost connection, a crash mid-send): every later send of this item uses
   * WeCom's duplicate check, and only then. A send WeCom answered with an
   * error is known not to have been delivered and does not set it.
   */
  uncertain?: boolean;
}

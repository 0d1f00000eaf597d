/**
 * Sending one item, exactly once across processes: the claim commits
 * `attempts + 1`, a short in-flight lease (`inFlightUntil`), the pacing
 * reservation and the copy's variant, checked on the item's versionstamp;
 * right before the send a media item is uploaded (its media id stored first,
 * so a resend sends the same one) and markdown may turn into text
 * (`../prepare.ts`); every send carries WeCom's duplicate check. After the
 * send, `state: "sent"` and the msgid are recorded (`./finish.ts`); a failure
 * goes to `./failures.ts`.
 *
 * @example Usage
 * ```ts ignore
 * import { sendItem } from "./send.ts";
 * const slot = await reserveSlot(state.kv, app, item.userId, now, state.limits);
 * if (slot.ok) return await sendItem(state, { entry, app, slot, ready, last, at: now });
 * ```
 *
 * @module
 */

import type { AppConfig } from "../../config/types.ts";
import type { OutboxReady } from "../../records/outbox.ts";
import type { SlotReservation } from "../pacing.ts";
import { withVariant } from "../duplicate_check.ts";
import type { OutboxItem } from "../../records/outbox_item.ts";
import { appRecovered } from "./app_status.ts";
import { addCount, countCopy } from "./copies.ts";
import { sendFailed } from "./failures.ts";
import { finishItem } from "./finish.ts";
import type { DeliveryState, Step } from "./state.ts";

/** An outbox item that is sent (not a recall, which `./recall.ts` handles). */
export type SendableItem = OutboxItem & {
  message: Exclude<OutboxItem["message"], { msgtype: "recall" }>;
};

/** A due head item cleared to be sent now. */
export interface SendTarget {
  /** The item (pending, due, not in flight) as read. */
  entry: Deno.KvEntry<SendableItem>;
  /** The app it goes through. */
  app: AppConfig;
  /** The pacing slot reserved for it. */
  slot: Extract<SlotReservation, { ok: true }>;
  /** The conversation's marker, as read before its queue. */
  ready: Deno.KvEntryMaybe<OutboxReady>;
  /** The item was the last of its queue when the queue was read. */
  last: boolean;
  /** Epoch ms of this step. */
  at: number;
}

/** Claims, prepares, sends and records the item of `target`; "done" once its queue is empty. */
export async function sendItem(state: DeliveryState, target: SendTarget): Promise<Step> {
  const { entry, app, slot, ready, at } = target;
  const item = entry.value;
  // Which identical copy this text is, fixed at the first attempt (see ../duplicate_check.ts).
  // A media item is counted once prepared, if it turns out to be a text (an explanation).
  const counted = await countCopy(state, app, item, item.message, at);
  const claimed: OutboxItem = {
    ...item,
    // A lease left behind means a sender stopped mid-send: that send may have landed.
    uncertain: item.uncertain === true || item.inFlightUntil !== undefined,
    attempts: item.attempts + 1,
    firstAttemptAt: item.firstAttemptAt ?? at,
    lastAttemptAt: at,
    // An upload of up to 20 MB comes first for a media item: hold it longer.
    inFlightUntil: at + (item.message.msgtype === "media" ? state.mediaLeaseMs : state.leaseMs),
  };
  if (counted !== null) claimed.variant = counted.variant;
  const claim = await state.commit((op) =>
    addCount(state, slot.commitMutation(op.check(entry)).set(entry.key, claimed), counted)
  );
  if (!claim.ok) return "next"; // another sender was faster: look again
  let current = claimed;
  let versionstamp = claim.versionstamp;
  let msgId: string;
  let sending = false;
  try {
    const prepared = await state.prepare(app, { ...claimed, message: item.message });
    const late = item.message.msgtype === "media"
      ? await countCopy(state, app, claimed, prepared.message, at)
      : null;
    if (prepared.persist || late !== null) {
      // Keep the media id (and the variant of an explanation) before sending, so that a
      // resend sends the very same request.
      const kept: OutboxItem = {
        ...(prepared.persist ?? claimed),
        inFlightUntil: claimed.inFlightUntil,
      };
      if (late !== null) kept.variant = late.variant;
      const saved = await state.commit((op) =>
        addCount(state, op.check({ key: entry.key, versionstamp }).set(entry.key, kept), late)
      );
      if (!saved.ok) return "next"; // the item changed meanwhile: look again
      current = kept;
      versionstamp = saved.versionstamp;
    }
    sending = true;
    // Every send carries the duplicate check (a crash may follow any of them), unless
    // the variant's suffix does not fit: then the text goes out as it is, unchecked.
    const varied = withVariant(prepared.message, current.variant ?? 0);
    const result = await state.client.send(app, item.userId, varied ?? prepared.message, {
      duplicateCheck: varied !== null,
    });
    msgId = result.msgId;
  } catch (error) {
    // Only a failed message/send may have been delivered; a failed upload was not.
    await sendFailed(state, current, versionstamp, app, error, sending);
    return "next";
  }
  // The last item of the queue (when it was read): drop the marker with the
  // send's record, unless an item was added since, instead of one more look.
  const marker = target.last && ready.versionstamp !== null ? ready : undefined;
  const dropped = await finishItem(state, current, versionstamp, { state: "sent", msgId }, marker);
  if (state.reported.has(app.name)) await appRecovered(state, app);
  return dropped ? "done" : "next";
}

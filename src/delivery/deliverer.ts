/**
 * The delivery loop: sends outbox items to WeCom, per conversation in id
 * order, paced, retried, and never lost nor doubled.
 *
 * - Order: only the head of a conversation's queue (`keys.outboxQueue`) is
 *   processed; conversations run in parallel up to `concurrency`.
 * - Exactly one sender per item, across processes: before a send the loop
 *   commits `attempts + 1`, a short in-flight lease (`inFlightUntil`) and the
 *   pacing reservation, with a check on the item's versionstamp. After the send
 *   it commits `state: "sent"` and the msgid and removes the queue entry.
 * - Exactly once (`./duplicate_check.ts`): every send, the first included,
 *   carries WeCom's duplicate check with a 4-hour interval, so a resend after a
 *   crash between send and commit (or after a timeout) is the same request as
 *   the copy that may have landed, and WeCom drops it. A text identical to one
 *   sent to the member within that interval gets an invisible suffix (its
 *   variant, fixed at the first attempt) so that WeCom does not drop it.
 * - Crashes: an item whose lease ran out is due again.
 * - Pacing (`./pacing.ts`): a message over 30/min or 1000/h per member is held
 *   (`notBefore`), never sent, because WeCom would drop it silently.
 * - Failures (`./retry_policy.ts`): busy, rate limit, HTTP 5xx, token and
 *   network errors back off exponentially with jitter, capped
 *   (`retryMaxBackoffMs`, default 5 min), for the retry window from the first
 *   attempt (`retryWindowMs`, default 30 min); meanwhile the item holds its
 *   conversation, so later items for the member wait behind it, in order.
 *   60020 (untrusted IP) is reported to the operator once per app, recorded at
 *   `keys.appStatus(app)` and retried slowly within the same window. Credential
 *   and permanent errors (81013, 40003, 86xxx, …) at once, an exhausted window
 *   and unknown apps make dead letters that record why (`deadReason`), and the
 *   conversation's next item goes on.
 * - Media and markdown (`./prepare.ts`): right before a send, a media item is
 *   uploaded (its media id stored on the item first, so a resend sends the
 *   same one) or explained in a short text; markdown goes as text to
 *   WeChat-plugin users.
 * - Recalls: a recall item recalls its target if it was sent and cancels it if
 *   not; a pending notice with a recall behind it in the queue is cancelled at
 *   once instead of being sent late.
 * - Wake-ups: a watch on `keys.outboxWake()`, a poll, {@linkcode Delivery.wake}
 *   and the earliest due time. Message content never reaches the log.
 * - Cost per message: the commits of conversations sent in parallel share one
 *   durable KV commit (group commit, each keeping its own checks), and the
 *   record of a conversation's last send also drops its marker.
 *
 * @example Usage
 * ```ts ignore
 * import { startDelivery } from "./deliverer.ts";
 * const delivery = startDelivery({ kv, apps: config.apps, client, config: config.delivery });
 * // … on shutdown:
 * await delivery.stop();
 * ```
 *
 * @module
 */

import type { AppConfig, DeliveryConfig } from "../config/types.ts";
import { type LogFields, type LogLevel, write as writeLog } from "../log.ts";
import { createGroupCommit } from "../store/group_commit.ts";
import { keys } from "../store/keys.ts";
import { NO_ERRCODE, WeComApiError } from "../wecom/errors.ts";
import type { WeComClient } from "../wecom/types.ts";
import {
  addCancel,
  FINISHED_RETENTION_MS,
  type OutboxReady,
  withoutLease,
} from "../records/outbox.ts";
import { type PacingLimits, reserveSlot, validatePacingLimits } from "./pacing.ts";
import { passThrough, type PrepareMessage } from "./prepare.ts";
import {
  decideRetry,
  DEFAULT_RETRY_POLICY,
  describeError,
  explainError,
  type RetryPolicy,
} from "./retry_policy.ts";
import { DUPLICATE_CHECK_INTERVAL_SECONDS } from "../wecom/client.ts";
import {
  type DuplicateRecord,
  duplicateRecordKey,
  nextVariant,
  withVariant,
} from "./duplicate_check.ts";
import type { AppDeliveryStatus } from "../records/app_status.ts";
import type { DeadReason, OutboxItem } from "../records/outbox_item.ts";

/** A log function: level, message, plain fields (never message content). */
export type DeliveryLog = (level: LogLevel, message: string, fields?: LogFields) => void;

/** Dependencies and settings of {@linkcode startDelivery}. */
export interface DeliveryDeps {
  kv: Deno.Kv;
  /** Configured apps; items naming another app become dead letters. */
  apps: AppConfig[];
  client: WeComClient;
  config: DeliveryConfig;
  /** Clock, epoch ms (default `Date.now`); every due time is judged by it. */
  now?: () => number;
  log?: DeliveryLog;
  /** Conversations delivered at once (default 8). */
  concurrency?: number;
  /** Interval of the fallback poll, ms (default 500). */
  pollMs?: number;
  /** First retry back-off, ms (default 1000; doubles up to `backoffMaxMs`). */
  backoffBaseMs?: number;
  /** Largest retry back-off, ms (default `config.retryMaxBackoffMs`, else 5 min). */
  backoffMaxMs?: number;
  /** First back-off after 60020 (untrusted IP), ms (default 60 s). */
  ipBackoffBaseMs?: number;
  /** In-flight lease of one send, ms (default `2 × requestTimeoutMs + 5 s`). */
  leaseMs?: number;
  /** In-flight lease of a media item (upload, then send), ms (default `leaseMs` + 4 min). */
  mediaLeaseMs?: number;
  /**
   * Turns a due item into the message sent: uploads media items, sends markdown as
   * text to WeChat-plugin users (`createMessagePreparer` of `./prepare.ts`).
   * Default `passThrough`: media items are explained as not sent.
   */
  prepare?: PrepareMessage;
  /** Extra wait after a pacing window frees up, ms (default 1000). */
  pacingMarginMs?: number;
  /** Random source of the back-off jitter (default `Math.random`). */
  random?: () => number;
  /**
   * Commits the atomic operation `build` fills in. Default: a group commit over
   * `kv` (`createGroupCommit` of src/intake/group_commit.ts), so that the
   * commits of conversations delivered in parallel share one durable KV commit
   * (each keeps its own checks and gets its own result). The gateway passes the
   * process's one committer (a commit of its own each when
   * `gateway.group_commit` is off).
   */
  commit?: (
    build: (op: Deno.AtomicOperation) => Deno.AtomicOperation,
  ) => Promise<Deno.KvCommitResult | Deno.KvCommitError>;
}

/** A running delivery loop. */
export interface Delivery {
  /** Looks for due items now (e.g. right after adding items in this process). */
  wake(): void;
  /** Stops the loop and waits for sends in flight. */
  stop(): Promise<void>;
  /** Resolves once nothing due is pending: no conversation has an item due by `now()`. */
  idle(): Promise<void>;
}

/** A variant and the per-member counter of identical texts to store with it. */
interface Counted {
  variant: number;
  entry: Deno.KvEntryMaybe<DuplicateRecord>;
  record: DuplicateRecord;
}

/** Attempts of a recall before it is given up (recalls never block a queue for long). */
const RECALL_MAX_ATTEMPTS = 3;

/** Purposes of items a later recall may target. */
const RECALLABLE = new Set<OutboxItem["purpose"]>(["notice", "working"]);

/** Steps one conversation may take in one go before yielding to a new scan. */
const MAX_STEPS = 1000;

type Step = "next" | "done";

/**
 * Starts the delivery loop.
 *
 * @example Usage
 * ```ts ignore
 * import { startDelivery } from "./deliverer.ts";
 * const delivery = startDelivery({ kv, apps, client, config: config.delivery });
 * delivery.wake();
 * await delivery.stop();
 * ```
 *
 * @throws {RangeError} When `config` has values delivery cannot work with.
 */
export function startDelivery(deps: DeliveryDeps): Delivery {
  const { kv, client, config } = deps;
  const now = deps.now ?? Date.now;
  const log: DeliveryLog = deps.log ?? writeLog;
  const random = deps.random ?? Math.random;
  const concurrency = positiveInteger("concurrency", deps.concurrency ?? 8);
  const pollMs = positiveInteger("pollMs", deps.pollMs ?? 500);
  const leaseMs = positiveInteger("leaseMs", deps.leaseMs ?? 2 * config.requestTimeoutMs + 5000);
  const mediaLeaseMs = positiveInteger("mediaLeaseMs", deps.mediaLeaseMs ?? leaseMs + 240_000);
  const prepare = deps.prepare ?? passThrough;
  const policy: RetryPolicy = {
    windowMs: positiveInteger(
      "delivery.retryWindowMs",
      config.retryWindowMs ?? DEFAULT_RETRY_POLICY.windowMs,
    ),
    baseMs: deps.backoffBaseMs ?? DEFAULT_RETRY_POLICY.baseMs,
    maxMs: positiveInteger(
      "delivery.retryMaxBackoffMs",
      deps.backoffMaxMs ?? config.retryMaxBackoffMs ?? DEFAULT_RETRY_POLICY.maxMs,
    ),
    ipBaseMs: deps.ipBackoffBaseMs ?? DEFAULT_RETRY_POLICY.ipBaseMs,
  };
  /**
   * How long an identical text's variant is remembered: WeCom's duplicate-check
   * interval from the latest copy that may still reach it (a retry within the
   * window, a late landing within a lease).
   */
  const variantHoldMs = DUPLICATE_CHECK_INTERVAL_SECONDS * 1000 + policy.windowMs + mediaLeaseMs;
  const limits: PacingLimits = {
    perMinute: config.perMinute,
    perHour: config.perHour,
    marginMs: deps.pacingMarginMs,
  };
  validatePacingLimits(limits);
  const apps = new Map(deps.apps.map((app) => [app.name, app]));
  const commit = deps.commit ?? createGroupCommit(kv);

  let stopped = false;
  /** Conversations being processed, with their promise. */
  const active = new Map<string, Promise<void>>();
  /** Conversations whose processing threw: skipped until the time given. */
  const troubled = new Map<string, number>();
  /** Apps whose trusted-IP or credential problem was reported (reported once; cleared on success). */
  const reported = new Set<string>();
  let dueWaiting = 0;
  /** The conversation the last scan started: the next scan goes on after it. */
  let resumeAfter: string | undefined;
  let scanning: Promise<void> | null = null;
  let queuedScan: Promise<void> | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;

  // ---- scheduling -------------------------------------------------------------------------

  function requestScan(): Promise<void> {
    if (stopped) return Promise.resolve();
    if (scanning === null) {
      scanning = scan()
        .catch((error) => log("error", "delivery scan failed", { error: describeError(error) }))
        .finally(() => {
          scanning = null;
        });
      return scanning;
    }
    queuedScan ??= scanning.then(() => {
      queuedScan = null;
      return requestScan();
    });
    return queuedScan;
  }

  async function scan(): Promise<void> {
    const at = now();
    let earliest = Infinity;
    let waiting = 0;
    // Read in small batches and stop once every slot is taken and one more
    // conversation is due: with a backlog, a scan then reads a few entries
    // instead of every conversation's marker (it runs after each conversation).
    // Each scan goes on after the conversation the last one started, round the
    // key order, so that a backlog is served in turn, not by conversation name.
    for await (const entry of markersAfter(resumeAfter)) {
      if (stopped) return;
      const conversation = entry.key[entry.key.length - 1] as string;
      if (active.has(conversation)) continue;
      const troubledUntil = troubled.get(conversation);
      if (troubledUntil !== undefined) {
        if (troubledUntil > at) continue;
        troubled.delete(conversation);
      }
      const notBefore = entry.value?.notBefore ?? 0;
      if (notBefore > at) {
        earliest = Math.min(earliest, notBefore);
      } else if (active.size < concurrency) {
        startConversation(conversation);
        resumeAfter = conversation;
      } else {
        waiting++;
        break; // the next scan (when a slot frees up) goes on from here
      }
    }
    dueWaiting = waiting;
    schedule(waiting > 0 ? pollMs : Math.min(pollMs, earliest - at));
  }

  /** Every conversation marker once: those after `after` in key order, then the rest. */
  async function* markersAfter(after: string | undefined) {
    const prefix = keys.outboxReadyPrefix();
    const options = { batchSize: 4 * concurrency };
    if (after === undefined) {
      yield* kv.list<OutboxReady>({ prefix }, options);
      return;
    }
    for await (
      const entry of kv.list<OutboxReady>({ prefix, start: [...prefix, after] }, options)
    ) {
      if (entry.key[entry.key.length - 1] !== after) yield entry;
    }
    yield* kv.list<OutboxReady>({ prefix, end: [...prefix, after] }, options);
    const last = await kv.get<OutboxReady>([...prefix, after]);
    if (last.versionstamp !== null) yield last as Deno.KvEntry<OutboxReady>;
  }

  function schedule(delayMs: number): void {
    if (stopped) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      requestScan();
    }, Math.max(5, Math.min(pollMs, delayMs)));
  }

  function startConversation(conversation: string): void {
    const run = processConversation(conversation)
      .catch((error) => {
        troubled.set(conversation, now() + pollMs);
        log("error", "delivery of a conversation failed; retrying soon", {
          conversation,
          error: describeError(error),
        });
      })
      .finally(() => {
        active.delete(conversation);
        requestScan();
      });
    active.set(conversation, run);
  }

  async function processConversation(conversation: string): Promise<void> {
    for (let step = 0; step < MAX_STEPS && !stopped; step++) {
      if (await processHead(conversation) === "done") return;
    }
  }

  // ---- one step -----------------------------------------------------------------------------

  /** Handles the head item of a conversation: "next" to look at the (new) head again. */
  async function processHead(conversation: string): Promise<Step> {
    const at = now();
    const ready = await kv.get<OutboxReady>(keys.outboxReady(conversation));
    const [head, next] = await Array.fromAsync(
      kv.list<string>({ prefix: keys.outboxQueuePrefix(conversation) }, { limit: 2 }),
    );
    if (head === undefined) {
      // Queue empty: drop the marker unless an item was added since it was read.
      if (ready.versionstamp !== null) {
        await commit((op) => op.check(ready).delete(ready.key));
      }
      return "done";
    }
    const entry = await kv.get<OutboxItem>(keys.outbox(head.value));
    const item = entry.value;
    if (item === null || item.state !== "pending") {
      await commit((op) => op.check(head).delete(head.key)); // stale queue entry
      return "next";
    }
    if ((item.inFlightUntil ?? 0) > at) return await hold(ready, item.inFlightUntil!);
    if (item.message.msgtype === "recall") {
      return await processRecall(entry as Deno.KvEntry<OutboxItem>, item.message.ofItem, ready, at);
    }
    if (RECALLABLE.has(item.purpose) && await recalledLater(conversation, item.id)) {
      const result = await commit((op) => addCancel(op.check(entry), item));
      if (result.ok) log("info", "notice cancelled before sending", itemFields(item));
      return "next";
    }
    const app = apps.get(item.app);
    if (app === undefined) {
      const why = `Cannot deliver through app '${item.app}': no app of that name is configured ` +
        "(the configuration changed). Add the app back and retry the dead letter, or purge it.";
      await deadLetter(
        entry as Deno.KvEntry<OutboxItem>,
        why,
        deadReason(item, "app_missing", why),
      );
      return "next";
    }
    if (item.notBefore > at) return await hold(ready, item.notBefore);
    const stopped = stoppedAfterWindow(item, at);
    if (stopped !== null) {
      await deadLetter(
        entry as Deno.KvEntry<OutboxItem>,
        stopped,
        deadReason(item, "window", stopped),
      );
      return "next";
    }
    const slot = await reserveSlot(kv, app, item.userId, at, limits);
    if (!slot.ok) {
      const held: OutboxItem = { ...item, notBefore: slot.retryAt };
      const result = await commit((op) => op.check(entry).set(entry.key, held));
      if (result.ok) {
        log("info", "message held by pacing (WeCom drops sends over its per-member limits)", {
          ...itemFields(item),
          until: new Date(slot.retryAt).toISOString(),
        });
      }
      return "next";
    }
    // Which identical copy this text is, fixed at the first attempt (see ./duplicate_check.ts).
    // A media item is counted once prepared, if it turns out to be a text (an explanation).
    const counted = await countCopy(app, item, item.message, at);
    const claimed: OutboxItem = {
      ...item,
      // A lease left behind means a sender stopped mid-send: that send may have landed.
      uncertain: item.uncertain === true || item.inFlightUntil !== undefined,
      attempts: item.attempts + 1,
      firstAttemptAt: item.firstAttemptAt ?? at,
      lastAttemptAt: at,
      // An upload of up to 20 MB comes first for a media item: hold it longer.
      inFlightUntil: at + (item.message.msgtype === "media" ? mediaLeaseMs : leaseMs),
    };
    if (counted !== null) claimed.variant = counted.variant;
    const claim = await commit((op) =>
      addCount(slot.commitMutation(op.check(entry)).set(entry.key, claimed), counted)
    );
    if (!claim.ok) return "next"; // another sender was faster: look again
    let current = claimed;
    let versionstamp = claim.versionstamp;
    let msgId: string;
    let sending = false;
    try {
      const prepared = await prepare(app, { ...claimed, message: item.message });
      const late = item.message.msgtype === "media"
        ? await countCopy(app, claimed, prepared.message, at)
        : null;
      if (prepared.persist || late !== null) {
        // Keep the media id (and the variant of an explanation) before sending, so that a
        // resend sends the very same request.
        const kept: OutboxItem = {
          ...(prepared.persist ?? claimed),
          inFlightUntil: claimed.inFlightUntil,
        };
        if (late !== null) kept.variant = late.variant;
        const saved = await commit((op) =>
          addCount(op.check({ key: entry.key, versionstamp }).set(entry.key, kept), late)
        );
        if (!saved.ok) return "next"; // the item changed meanwhile: look again
        current = kept;
        versionstamp = saved.versionstamp;
      }
      sending = true;
      // Every send carries the duplicate check (a crash may follow any of them), unless
      // the variant's suffix does not fit: then the text goes out as it is, unchecked.
      const varied = withVariant(prepared.message, current.variant ?? 0);
      const result = await client.send(app, item.userId, varied ?? prepared.message, {
        duplicateCheck: varied !== null,
      });
      msgId = result.msgId;
    } catch (error) {
      // Only a failed message/send may have been delivered; a failed upload was not.
      await sendFailed(current, versionstamp, app, error, sending);
      return "next";
    }
    // The last item of the queue (when it was read): drop the marker with the
    // send's record, unless an item was added since, instead of one more look.
    const last = next === undefined && ready.versionstamp !== null ? ready : undefined;
    const dropped = await finish(current, versionstamp, { state: "sent", msgId }, last);
    if (reported.has(app.name)) await appRecovered(app);
    return dropped ? "done" : "next";
  }

  /**
   * The variant of `item` sent as `message` (its own, or the next free one for a
   * text identical to earlier ones to the member), with the counter to store in
   * the same commit; null for a message that cannot be a copy of another
   * (media: a fresh upload each).
   */
  async function countCopy(
    app: AppConfig,
    item: OutboxItem,
    message: OutboxItem["message"],
    at: number,
  ): Promise<Counted | null> {
    const key = await duplicateRecordKey(app, { userId: item.userId, message });
    if (key === null) return null;
    const seen = await kv.get<DuplicateRecord>(key);
    const next = nextVariant(seen.value, item.variant, at, variantHoldMs);
    return { variant: next.variant, entry: seen, record: next.record };
  }

  /** Adds the store of a counter from {@linkcode countCopy} (with its check) to `op`. */
  function addCount(op: Deno.AtomicOperation, counted: Counted | null): Deno.AtomicOperation {
    if (counted === null) return op;
    return op.check(counted.entry).set(counted.entry.key, counted.record, {
      expireIn: variantHoldMs,
    });
  }

  /**
   * Why an item whose sender stopped mid-send (a crash) is given up rather than
   * resent, or null to resend it. Past the retry window it gets one more
   * attempt (the gateway may simply have been down), as long as WeCom's
   * duplicate check still covers its last send; a second stop after the window,
   * or a last send older than the check's interval, makes a dead letter:
   * resending then could deliver a second copy.
   */
  function stoppedAfterWindow(item: OutboxItem, at: number): string | null {
    const windowEnd = (item.firstAttemptAt ?? at) + policy.windowMs;
    if (item.inFlightUntil === undefined || at < windowEnd) return null;
    const last = item.lastAttemptAt ?? item.firstAttemptAt ?? at;
    const unknown = `gave up after ${item.attempts} attempts: the retry window ran out and the ` +
      "last attempt's outcome is unknown (its sender stopped mid-send, so the member may have it)";
    if (last >= windowEnd) return `${unknown}; it was the one attempt after the window`;
    if (at - last >= DUPLICATE_CHECK_INTERVAL_SECONDS * 1000) {
      return `${unknown}; a resend now would fall outside WeCom's duplicate check ` +
        `(${DUPLICATE_CHECK_INTERVAL_SECONDS / 3600} h) and could arrive twice`;
    }
    return null;
  }

  /** Keeps the conversation's marker at `until` (the head is not due); "done" unless it moved. */
  async function hold(ready: Deno.KvEntryMaybe<OutboxReady>, until: number): Promise<Step> {
    const value: OutboxReady = { notBefore: until };
    const result = await commit((op) => op.check(ready).set(ready.key, value));
    return result.ok ? "done" : "next";
  }

  /** True when a recall of `itemId` waits further down the queue. */
  async function recalledLater(conversation: string, itemId: string): Promise<boolean> {
    const ids: string[] = [];
    for await (
      const entry of kv.list<string>({ prefix: keys.outboxQueuePrefix(conversation) }, {
        limit: 100,
      })
    ) {
      if (entry.value !== itemId) ids.push(entry.value);
    }
    for (let i = 0; i < ids.length; i += 10) {
      const entries = await kv.getMany<OutboxItem[]>(ids.slice(i, i + 10).map(keys.outbox));
      for (const { value } of entries) {
        if (value?.message.msgtype === "recall" && value.message.ofItem === itemId) return true;
      }
    }
    return false;
  }

  async function processRecall(
    entry: Deno.KvEntry<OutboxItem>,
    ofItem: string,
    ready: Deno.KvEntryMaybe<OutboxReady>,
    at: number,
  ): Promise<Step> {
    const item = entry.value;
    if (item.notBefore > at) return await hold(ready, item.notBefore);
    const target = await kv.get<OutboxItem>(keys.outbox(ofItem));
    const original = target.value;
    if (original === null || original.state === "dead" || original.state === "pending") {
      if (original?.state === "pending") {
        if ((original.inFlightUntil ?? 0) > at) {
          // Being sent right now by someone: recall it once that send is recorded.
          const held: OutboxItem = { ...item, notBefore: original.inFlightUntil! };
          await commit((op) => op.check(entry).set(entry.key, held));
          return "next";
        }
        const done = doneItem(item, "sent");
        const result = await commit((op) =>
          addCancel(op.check(entry).check(target), original)
            .set(entry.key, done, { expireIn: FINISHED_RETENTION_MS })
            .delete(keys.outboxQueue(item.conversation, item.id))
        );
        if (result.ok) log("info", "notice cancelled before sending", itemFields(original));
        return "next";
      }
      await commit((op) => finishMutation(op.check(entry), doneItem(item, "sent")));
      return "next";
    }
    // Sent: recall it at WeCom, through the app that sent it.
    const app = apps.get(original.app);
    if (original.msgId === undefined || app === undefined) {
      const why = app === undefined
        ? `nothing recalled: app '${original.app}' is no longer configured`
        : "nothing recalled: WeCom gave no msgid";
      log("warn", "recall skipped", { ...itemFields(item), reason: why });
      await commit((op) => finishMutation(op.check(entry), doneItem(item, "dead", why)));
      return "next";
    }
    const claimed: OutboxItem = {
      ...item,
      // A lease left behind means a sender stopped mid-send: that send may have landed.
      uncertain: item.uncertain === true || item.inFlightUntil !== undefined,
      attempts: item.attempts + 1,
      inFlightUntil: at + leaseMs,
    };
    const claim = await commit((op) => op.check(entry).set(entry.key, claimed));
    if (!claim.ok) return "next";
    try {
      await client.recall(app, original.msgId);
    } catch (error) {
      const reason = describeError(error);
      log("warn", "recall failed", {
        ...itemFields(item),
        attempt: claimed.attempts,
        error: reason,
      });
      const history = { attempts: claimed.attempts, firstAttemptAt: at, now: now() };
      const retry = claimed.attempts < RECALL_MAX_ATTEMPTS &&
        decideRetry(error, history, policy, random).action === "retry";
      if (retry) {
        // Try again right away: a recall must not hold up the conversation.
        const again: OutboxItem = { ...withoutLease(claimed), lastError: reason };
        await commit((op) =>
          op.check({ key: entry.key, versionstamp: claim.versionstamp }).set(
            entry.key,
            again,
          )
        );
      } else {
        await finish(claimed, claim.versionstamp, { state: "dead", lastError: reason });
      }
      return "next";
    }
    await finish(claimed, claim.versionstamp, { state: "sent" });
    return "next";
  }

  // ---- outcomes -----------------------------------------------------------------------------

  /**
   * Records the end of a claimed item: sent (with msgid) or given up (a recall).
   * Retries on a lost check unless another sender already recorded a send.
   */
  async function finish(
    claimed: OutboxItem,
    versionstamp: string,
    outcome: { state: "sent"; msgId?: string } | { state: "dead"; lastError: string },
    ready?: Deno.KvEntryMaybe<OutboxReady>,
  ): Promise<boolean> {
    const key = keys.outbox(claimed.id);
    let current: { value: OutboxItem; versionstamp: string } = { value: claimed, versionstamp };
    // `ready`: the conversation's marker, read before its queue showed this item
    // alone; dropped in the same commit unless it changed (an item was added).
    let marker = ready;
    for (;;) {
      const done: OutboxItem = { ...withoutLease(current.value), ...outcome };
      if (outcome.state === "sent" && outcome.msgId !== undefined) delete done.lastError;
      if (outcome.state === "sent") delete done.deadReason;
      const dropping = marker;
      const result = await commit((op) => {
        finishMutation(op.check({ key, versionstamp: current.versionstamp }), done);
        return dropping ? op.check(dropping).delete(dropping.key) : op;
      });
      if (result.ok) return dropping !== undefined;
      marker = undefined;
      const fresh = await kv.get<OutboxItem>(key);
      if (fresh.value === null || fresh.value.state === "sent") return false;
      if (fresh.value.state === "dead" && outcome.state === "sent") {
        log("warn", "an item cancelled or dead-lettered meanwhile was sent; recording the send", {
          ...itemFields(claimed),
        });
      }
      current = { value: fresh.value, versionstamp: fresh.versionstamp! };
    }
  }

  function finishMutation(op: Deno.AtomicOperation, done: OutboxItem): Deno.AtomicOperation {
    return op
      .set(keys.outbox(done.id), done, { expireIn: FINISHED_RETENTION_MS })
      .delete(keys.outboxQueue(done.conversation, done.id))
      .delete(keys.deadLetter(done.id));
  }

  /**
   * True when a failed send may still have been delivered: WeCom gave no answer
   * (timeout, dropped connection, network error) or an HTTP error from a hop that
   * may have forwarded it. An errcode from WeCom, 503, 429 and 408 mean it was not.
   */
  function outcomeUnknown(error: unknown): boolean {
    if (!(error instanceof WeComApiError)) return true;
    if (error.errcode !== NO_ERRCODE) return false;
    if (error.kind === "network") return true;
    return error.httpStatus === undefined || ![408, 429, 503].includes(error.httpStatus);
  }

  async function sendFailed(
    claimed: OutboxItem,
    versionstamp: string,
    app: AppConfig,
    error: unknown,
    sending: boolean,
  ): Promise<void> {
    const history = {
      attempts: claimed.attempts,
      firstAttemptAt: claimed.firstAttemptAt ?? now(),
      now: now(),
    };
    const decision = decideRetry(error, history, policy, random);
    if (decision.kind === "ip_not_trusted" || decision.kind === "credentials") {
      await appProblem(app, decision.kind, error);
    }
    const key = keys.outbox(claimed.id);
    if (decision.action === "dead") {
      const why = deadReason(claimed, decision.cause, decision.reason, error);
      await deadLetter({ key, value: claimed, versionstamp }, decision.reason, why);
      return;
    }
    const reason = describeError(error);
    const uncertain = claimed.uncertain === true || (sending && outcomeUnknown(error));
    // A send that may still land at WeCom is not repeated before its in-flight lease ends
    // (two request timeouts and a margin after it started), so that a late first copy lands
    // before the duplicate-checked one and WeCom can recognise the second.
    const at = now();
    const landBy = Math.min(claimed.inFlightUntil ?? at, at + leaseMs);
    const retryAt = Math.max(at + decision.delayMs, uncertain && !claimed.uncertain ? landBy : 0);
    const retried: OutboxItem = {
      ...withoutLease(claimed),
      notBefore: retryAt,
      lastError: reason,
      uncertain,
    };
    const result = await commit((op) => op.check({ key, versionstamp }).set(key, retried));
    log("warn", "send failed; retrying later", {
      ...itemFields(claimed),
      attempt: claimed.attempts,
      kind: decision.kind,
      retryInMs: decision.delayMs,
      error: reason,
      recorded: result.ok,
    });
  }

  /** Why `item` is given up, for the operator (`jobs dead`). */
  function deadReason(
    item: OutboxItem,
    cause: DeadReason["cause"],
    description: string,
    error?: unknown,
  ): DeadReason {
    const explained = error === undefined ? { meaning: description } : explainError(error);
    const why: DeadReason = { cause, ...explained, attempts: item.attempts, at: now() };
    if (item.firstAttemptAt !== undefined) why.firstAttemptAt = item.firstAttemptAt;
    if (item.lastAttemptAt !== undefined) why.lastAttemptAt = item.lastAttemptAt;
    if (cause === "window") why.windowMs = policy.windowMs;
    return why;
  }

  /** Moves an item to the dead letters; the conversation's next item goes on. */
  async function deadLetter(
    entry: Deno.KvEntry<OutboxItem>,
    reason: string,
    why: DeadReason,
  ): Promise<void> {
    const item = entry.value;
    const dead: OutboxItem = {
      ...withoutLease(item),
      state: "dead",
      lastError: reason,
      deadReason: why,
    };
    const result = await commit((op) =>
      op
        .check(entry)
        .set(entry.key, dead)
        .set(keys.deadLetter(item.id), item.id)
        .delete(keys.outboxQueue(item.conversation, item.id))
    );
    if (result.ok) {
      log("error", "message could not be delivered: moved to the dead letters", {
        ...itemFields(item),
        attempts: item.attempts,
        cause: why.cause,
        reason,
      });
    }
  }

  async function appProblem(app: AppConfig, problem: string, error: unknown): Promise<void> {
    const message = problem === "ip_not_trusted"
      ? `WeCom refused app '${app.name}' because this server's IP is not trusted (errcode 60020): ` +
        "add this server's egress IP to the app's trusted IPs (应用管理 → the app → 企业可信IP); " +
        "it applies after about a minute, and delivery keeps retrying until then."
      : `WeCom refused the credentials of app '${app.name}': ${describeError(error)}`;
    const status: AppDeliveryStatus = {
      app: app.name,
      ok: false,
      problem,
      errcode: (error as { errcode?: number }).errcode,
      message,
      at: now(),
    };
    await kv.set(keys.appStatus(app.name), status);
    if (!reported.has(app.name)) {
      reported.add(app.name);
      log("error", message, { app: app.name, errcode: status.errcode });
    }
  }

  async function appRecovered(app: AppConfig): Promise<void> {
    reported.delete(app.name);
    const status: AppDeliveryStatus = {
      app: app.name,
      ok: true,
      message: "WeCom accepts sends again",
      at: now(),
    };
    await kv.set(keys.appStatus(app.name), status);
    log("info", `app '${app.name}' delivers again`, { app: app.name });
  }

  // ---- wake-ups ----------------------------------------------------------------------------

  const reader = kv.watch([keys.outboxWake()]).getReader();
  const watching = (async () => {
    try {
      for (;;) {
        const { done } = await reader.read();
        if (done || stopped) return;
        requestScan();
      }
    } catch (error) {
      if (!stopped) {
        log("warn", "watching the outbox wake-up key failed; polling only", {
          error: describeError(error),
        });
      }
    }
  })();

  requestScan();

  return {
    wake() {
      requestScan();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await reader.cancel().catch(() => {});
      await watching;
      await Promise.allSettled([scanning, queuedScan, ...active.values()]);
    },
    async idle() {
      for (;;) {
        if (stopped) return;
        await requestScan();
        if (active.size === 0 && dueWaiting === 0) return;
        await Promise.allSettled([...active.values()]);
      }
    },
  };
}

/** Log fields of an item: ids and routing, never content. */
function itemFields(item: OutboxItem): LogFields {
  return {
    item: item.id,
    job: item.jobId,
    app: item.app,
    conversation: item.conversation,
    purpose: item.purpose,
  };
}

function doneItem(item: OutboxItem, state: "sent" | "dead", lastError?: string): OutboxItem {
  const done: OutboxItem = { ...withoutLease(item), state };
  if (lastError !== undefined) done.lastError = lastError;
  return done;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot start delivery as '${name}' must be a positive integer: current value is ${value}`,
    );
  }
  return value;
}

/**
 * Scanning and ordering: a scan reads the conversation markers
 * (`keys.outboxReady`) and starts the due conversations, up to `concurrency`
 * at once; each conversation then handles its queue head after head
 * (`./head.ts`), so the items of one member go in id order while members are
 * served in parallel. Scans go round the key order from where the last one
 * started, one at a time (a request during a scan queues one more), and the
 * next scan is timed by the earliest due marker or the poll.
 *
 * @example Usage
 * ```ts ignore
 * import { requestScan, waitIdle } from "./scan.ts";
 * requestScan(state); // at a wake-up
 * await waitIdle(state); // nothing due is pending
 * ```
 *
 * @module
 */

import { keys } from "../../store/keys.ts";
import type { OutboxReady } from "../../records/outbox.ts";
import { describeError } from "../retry_policy.ts";
import { processHead } from "./head.ts";
import type { DeliveryState } from "./state.ts";

/** Steps one conversation may take in one go before yielding to a new scan. */
const MAX_STEPS = 1000;

/** Runs a scan now, or once the scan in progress ends; resolves when it has run. */
export function requestScan(state: DeliveryState): Promise<void> {
  if (state.stopped) return Promise.resolve();
  if (state.scanning === null) {
    state.scanning = scan(state)
      .catch((error) => state.log("error", "delivery scan failed", { error: describeError(error) }))
      .finally(() => {
        state.scanning = null;
      });
    return state.scanning;
  }
  state.queuedScan ??= state.scanning.then(() => {
    state.queuedScan = null;
    return requestScan(state);
  });
  return state.queuedScan;
}

/** Resolves once nothing due is pending: no conversation has an item due by `now()`. */
export async function waitIdle(state: DeliveryState): Promise<void> {
  for (;;) {
    if (state.stopped) return;
    await requestScan(state);
    if (state.active.size === 0 && state.dueWaiting === 0) return;
    await Promise.allSettled([...state.active.values()]);
  }
}

async function scan(state: DeliveryState): Promise<void> {
  const at = state.now();
  let earliest = Infinity;
  let waiting = 0;
  // Read in small batches and stop once every slot is taken and one more
  // conversation is due: with a backlog, a scan then reads a few entries
  // instead of every conversation's marker (it runs after each conversation).
  // Each scan goes on after the conversation the last one started, round the
  // key order, so that a backlog is served in turn, not by conversation name.
  for await (const entry of markersAfter(state, state.resumeAfter)) {
    if (state.stopped) return;
    const conversation = entry.key[entry.key.length - 1] as string;
    if (state.active.has(conversation)) continue;
    const troubledUntil = state.troubled.get(conversation);
    if (troubledUntil !== undefined) {
      if (troubledUntil > at) continue;
      state.troubled.delete(conversation);
    }
    const notBefore = entry.value?.notBefore ?? 0;
    if (notBefore > at) {
      earliest = Math.min(earliest, notBefore);
    } else if (state.active.size < state.concurrency) {
      startConversation(state, conversation);
      state.resumeAfter = conversation;
    } else {
      waiting++;
      break; // the next scan (when a slot frees up) goes on from here
    }
  }
  state.dueWaiting = waiting;
  schedule(state, waiting > 0 ? state.pollMs : Math.min(state.pollMs, earliest - at));
}

/** Every conversation marker once: those after `after` in key order, then the rest. */
async function* markersAfter(state: DeliveryState, after: string | undefined) {
  const { kv } = state;
  const prefix = keys.outboxReadyPrefix();
  const options = { batchSize: 4 * state.concurrency };
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

function schedule(state: DeliveryState, delayMs: number): void {
  if (state.stopped) return;
  if (state.timer !== undefined) clearTimeout(state.timer);
  state.timer = setTimeout(() => {
    state.timer = undefined;
    requestScan(state);
  }, Math.max(5, Math.min(state.pollMs, delayMs)));
}

function startConversation(state: DeliveryState, conversation: string): void {
  const run = processConversation(state, conversation)
    .catch((error) => {
      state.troubled.set(conversation, state.now() + state.pollMs);
      state.log("error", "delivery of a conversation failed; retrying soon", {
        conversation,
        error: describeError(error),
      });
    })
    .finally(() => {
      state.active.delete(conversation);
      requestScan(state);
    });
  state.active.set(conversation, run);
}

async function processConversation(state: DeliveryState, conversation: string): Promise<void> {
  for (let step = 0; step < MAX_STEPS && !state.stopped; step++) {
    if (state.yieldTo) {
      await state.yieldTo();
      if (state.stopped) return;
    }
    if (await processHead(state, conversation) === "done") return;
  }
}

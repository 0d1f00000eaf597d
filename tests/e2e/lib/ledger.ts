/**
 * The exactly-once ledger of a fault test: every message the gateway
 * acknowledged (HTTP 200) is written down in order per user, and compared
 * with what the simulated WeCom API delivered.
 *
 * A message is answered exactly once when its reply (the agent echoes the
 * message, so the reply's content is the message's content) was delivered
 * exactly once. `duplicates` counts extra deliveries of a reply (a doubled
 * send the API did not suppress), `lost` acknowledged messages never answered
 * (including replies the API dropped silently), `outOfOrder` users whose
 * replies came in another order than their messages were acknowledged.
 *
 * @example Usage
 * ```ts ignore
 * import { checkLedger, createLedger } from "./ledger.ts";
 * const ledger = createLedger();
 * if (status === 200) ledger.ack("lisi", "lisi #1 3f2a");
 * const check = checkLedger(ledger, api);
 * console.assert(check.problems.length === 0, check.problems.join("\n"));
 * ```
 *
 * @module
 */

import type { FakeWeComApi } from "../../../src/simulator/wecom_api.ts";

/** Acknowledged messages, in acknowledgement order per user. */
export interface Ledger {
  /** Records that the gateway answered 200 to `content` from `user` (once per message). */
  ack(user: string, content: string): void;
  /** True when `content` from `user` was acknowledged. */
  acked(user: string, content: string): boolean;
  /** Acknowledged contents of `user`, in order. */
  expected(user: string): string[];
  users(): string[];
  /** Number of acknowledged messages. */
  size(): number;
}

/** The outcome of comparing a ledger with the deliveries. */
export interface LedgerCheck {
  acked: number;
  /** Replies delivered (to members of the ledger). */
  delivered: number;
  /** Deliveries beyond the first of the same reply. */
  duplicates: number;
  /** Acknowledged messages without a delivered reply. */
  lost: number;
  /** Delivered replies to messages that were never acknowledged. */
  unexpected: number;
  /** Users whose replies came out of order. */
  outOfOrder: number;
  /** Retried sends the API suppressed through `enable_duplicate_check` (no harm: the proof it was used). */
  suppressed: number;
  /** Sends the API answered 0 but dropped over its per-member limits. */
  dropped: number;
  /** One line per problem found, empty when every acknowledged message was answered exactly once. */
  problems: string[];
}

/**
 * Creates an empty ledger.
 *
 * @example Usage
 * ```ts
 * import { createLedger } from "./ledger.ts";
 * const ledger = createLedger();
 * ledger.ack("lisi", "hello");
 * console.assert(ledger.size() === 1);
 * ```
 */
export function createLedger(): Ledger {
  const byUser = new Map<string, string[]>();
  const seen = new Set<string>();
  return {
    ack(user, content) {
      const key = `${user}\u0000${content}`;
      if (seen.has(key)) return;
      seen.add(key);
      const list = byUser.get(user) ?? [];
      list.push(content);
      byUser.set(user, list);
    },
    acked: (user, content) => seen.has(`${user}\u0000${content}`),
    expected: (user) => [...(byUser.get(user) ?? [])],
    users: () => [...byUser.keys()],
    size: () => seen.size,
  };
}

function contentOf(payload: Record<string, unknown>): string {
  return String(payload.content ?? "");
}

/**
 * Compares `ledger` with the messages `api` delivered (all users it knows).
 *
 * @example Usage
 * ```ts ignore
 * const check = checkLedger(ledger, api);
 * assert.deepEqual(check.problems, []);
 * ```
 */
export function checkLedger(ledger: Ledger, api: FakeWeComApi, users?: string[]): LedgerCheck {
  const members = users ?? ledger.users();
  const check: LedgerCheck = {
    acked: 0,
    delivered: 0,
    duplicates: 0,
    lost: 0,
    unexpected: 0,
    outOfOrder: 0,
    suppressed: 0,
    dropped: 0,
    problems: [],
  };
  const memberSet = new Set(members);
  check.suppressed = api.state.duplicatesSuppressed.filter((m) => memberSet.has(m.touser)).length;
  check.dropped = api.state.dropped.filter((m) => memberSet.has(m.touser)).length;
  for (const user of members) {
    const expected = ledger.expected(user);
    const delivered = api.delivered(user).map((m) => contentOf(m.payload));
    check.acked += expected.length;
    check.delivered += delivered.length;
    const counts = new Map<string, number>();
    for (const content of delivered) counts.set(content, (counts.get(content) ?? 0) + 1);
    for (const [content, count] of counts) {
      if (count > 1) {
        check.duplicates += count - 1;
        check.problems.push(`${user}: reply ${JSON.stringify(content)} delivered ${count} times`);
      }
      if (!ledger.acked(user, content)) {
        check.unexpected++;
        check.problems.push(`${user}: reply ${JSON.stringify(content)} was never acknowledged`);
      }
    }
    for (const content of expected) {
      if (!counts.has(content)) {
        check.lost++;
        check.problems.push(`${user}: acknowledged ${JSON.stringify(content)} got no reply`);
      }
    }
    const order = [...new Set(delivered)].filter((content) => ledger.acked(user, content));
    const wanted = expected.filter((content) => counts.has(content));
    if (order.join("\n") !== wanted.join("\n")) {
      check.outOfOrder++;
      check.problems.push(
        `${user}: replies out of order: got ${JSON.stringify(order)}, want ${
          JSON.stringify(wanted)
        }`,
      );
    }
  }
  return check;
}

/**
 * An in-memory WeCom for delivery tests: a {@linkcode WeComClient} that behaves
 * like WeCom's `message/send` and `message/recall` where delivery depends on it.
 *
 * - More than `perMinute` messages from one app to one member within 60 s are
 *   accepted (errcode 0) but dropped silently, as WeCom does.
 * - With `duplicateCheck`, a request identical to one accepted in the last
 *   4 hours (the interval the client sends) is accepted but not delivered
 *   again. As WeCom compares the request JSON, the earlier one must have
 *   carried the duplicate check too.
 * - Failures are injected per call: an error to throw, or "deliver, then
 *   throw" (the answer was lost after WeCom delivered: a timeout, a crash).
 *
 * @module
 */

import type { AppConfig, DeliveryConfig } from "../../src/config/types.ts";
import { NO_ERRCODE, WeComApiError } from "../../src/wecom/errors.ts";
import type { OutboundMessage, SendOptions, WeComClient } from "../../src/wecom/types.ts";
import { DUPLICATE_CHECK_INTERVAL_SECONDS } from "../../src/wecom/client.ts";
import { visibleText } from "../../src/delivery/duplicate_check.ts";

/** One message a member received (or that WeCom dropped). */
export interface Received {
  agentId: string;
  userId: string;
  message: OutboundMessage;
  /** Fake clock time of the call. */
  at: number;
  msgId: string;
}

/** One call of `send`, whatever happened. */
export interface SendCall {
  userId: string;
  message: OutboundMessage;
  duplicateCheck: boolean;
  at: number;
}

/** What the next `send` (or `recall`) call does instead of succeeding plainly. */
export type Behaviour = Error | { deliverThenThrow: Error };

/** The fake and what it observed. */
export interface FakeWeCom {
  client: WeComClient;
  /** Messages members actually received, in order. */
  received: Received[];
  /** Messages WeCom accepted and dropped because of the per-member limit. */
  dropped: Received[];
  /** Messages WeCom accepted and dropped by the duplicate check. */
  duplicates: Received[];
  calls: SendCall[];
  /** msgids recalled. */
  recalls: string[];
  recallCalls: number;
  /** Behaviours of the next send calls, consumed in order. */
  sendBehaviours: Behaviour[];
  /** Behaviours of the next recall calls, consumed in order. */
  recallBehaviours: Behaviour[];
  /** Received texts of one member, in order, as shown (without an invisible variant suffix). */
  textsOf(userId: string): string[];
}

/** Creates the fake; `now` is the test's clock. */
export function createFakeWeCom(now: () => number, perMinute = 30): FakeWeCom {
  let nextMsgId = 1;
  /** Accepted requests: what was sent, and whether it carried the duplicate check. */
  const accepted: { record: Received; duplicateCheck: boolean }[] = [];
  const fake: FakeWeCom = {
    received: [],
    dropped: [],
    duplicates: [],
    calls: [],
    recalls: [],
    recallCalls: 0,
    sendBehaviours: [],
    recallBehaviours: [],
    textsOf: (userId) =>
      fake.received.filter((r) => r.userId === userId).map((r) =>
        "content" in r.message ? visibleText(r.message.content) : r.message.mediaId
      ),
    client: {
      send(app: AppConfig, userId: string, message: OutboundMessage, options?: SendOptions) {
        const at = now();
        const duplicateCheck = options?.duplicateCheck === true;
        fake.calls.push({ userId, message, duplicateCheck, at });
        const behaviour = fake.sendBehaviours.shift();
        if (behaviour instanceof Error) return Promise.reject(behaviour);
        const record: Received = {
          agentId: app.agentId,
          userId,
          message,
          at,
          msgId: `msg${nextMsgId++}`,
        };
        const same = (r: Received) =>
          r.agentId === record.agentId && r.userId === userId &&
          JSON.stringify(r.message) === JSON.stringify(message);
        const copyOf = (a: { record: Received; duplicateCheck: boolean }) =>
          a.duplicateCheck && same(a.record) &&
          at - a.record.at < DUPLICATE_CHECK_INTERVAL_SECONDS * 1000;
        if (duplicateCheck && accepted.some(copyOf)) {
          fake.duplicates.push(record);
        } else {
          const lastMinute = fake.received.filter((r) =>
            r.agentId === record.agentId && r.userId === userId && at - r.at < 60_000
          );
          if (lastMinute.length >= perMinute) fake.dropped.push(record);
          else fake.received.push(record);
          accepted.push({ record, duplicateCheck });
        }
        if (behaviour !== undefined) return Promise.reject(behaviour.deliverThenThrow);
        return Promise.resolve({ msgId: record.msgId, invalidUsers: [] });
      },
      recall(_app: AppConfig, msgId: string) {
        fake.recallCalls++;
        const behaviour = fake.recallBehaviours.shift();
        if (behaviour instanceof Error) return Promise.reject(behaviour);
        fake.recalls.push(msgId);
        return Promise.resolve();
      },
    },
  };
  return fake;
}

/** A WeCom errcode error of `message/send`. */
export function wecomError(errcode: number, api = "message/send"): WeComApiError {
  return new WeComApiError({ api, errcode, errmsg: `fake errmsg ${errcode}` });
}

/** An HTTP status error (no errcode). */
export function httpError(status: number): WeComApiError {
  return new WeComApiError({
    api: "message/send",
    errcode: NO_ERRCODE,
    errmsg: `HTTP ${status}`,
    httpStatus: status,
    kind: "retry",
    message: `WeCom message/send answered HTTP ${status}`,
  });
}

/** A timeout: WeCom's answer never came. */
export function timeoutError(): WeComApiError {
  return new WeComApiError({
    api: "message/send",
    errcode: NO_ERRCODE,
    errmsg: "timed out",
    kind: "network",
    message: "WeCom message/send did not answer within 1000 ms",
  });
}

/** The app used by delivery tests. */
export const APP: AppConfig = {
  name: "default",
  corpId: "wwcorp",
  corpSecret: "secret-not-used",
  agentId: "1000002",
  token: "tokenNotUsed",
  encodingAesKey: "a".repeat(43),
  apiBase: "http://127.0.0.1:9",
};

/** Delivery settings of the tests. */
export const DELIVERY: DeliveryConfig = {
  markdown: false,
  perMinute: 30,
  perHour: 1000,
  requestTimeoutMs: 1000,
};

/** A settable clock. */
export interface Clock {
  now: () => number;
  set(ms: number): void;
  advance(ms: number): void;
}

/** Creates a clock starting at `start`. */
export function createClock(start = Date.UTC(2025, 0, 6, 9, 0, 0)): Clock {
  let time = start;
  return {
    now: () => time,
    set: (ms) => {
      time = ms;
    },
    advance: (ms) => {
      time += ms;
    },
  };
}

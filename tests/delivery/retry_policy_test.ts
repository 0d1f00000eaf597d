import assert from "node:assert/strict";
import {
  backoffDelay,
  decideRetry,
  DEFAULT_RETRY_POLICY,
  describeError,
} from "../../src/delivery/retry_policy.ts";
import { httpError, timeoutError, wecomError } from "./fake_client.ts";
import { WeComApiError } from "../../src/wecom/errors.ts";

const policy = DEFAULT_RETRY_POLICY;
const top = () => 1;
/** The first failed attempt, at time 0. */
const first = { attempts: 1, firstAttemptAt: 0, now: 0 };

Deno.test("busy, rate limits, token, HTTP 5xx and network failures are retried", () => {
  for (
    const error of [
      wecomError(-1),
      wecomError(45009),
      wecomError(45033),
      wecomError(42001),
      httpError(503),
      httpError(500),
      timeoutError(),
      new TypeError("error sending request: connection refused"),
    ]
  ) {
    const decision = decideRetry(error, first, policy, top);
    assert.equal(decision.action, "retry", describeError(error));
    assert.equal(decision.action === "retry" && decision.delayMs, 1000);
  }
});

Deno.test("permanent and credential errors are not retried", () => {
  for (const errcode of [81013, 40003, 86001, 86220, 60011, 40058, 45002, 40001, 40013]) {
    const decision = decideRetry(wecomError(errcode), first, policy, top);
    assert.equal(decision.action, "dead", `errcode ${errcode}`);
    const cause = [40001, 40013].includes(errcode) ? "credentials" : "permanent";
    assert.equal(decision.action === "dead" && decision.cause, cause, `errcode ${errcode}`);
    assert.match(
      decision.action === "dead" ? decision.reason : "",
      new RegExp(`errcode ${errcode}`),
    );
  }
});

Deno.test("60020 is retried with a long back-off", () => {
  const ip = decideRetry(wecomError(60020), first, policy, top);
  assert.deepEqual(ip, { action: "retry", kind: "ip_not_trusted", delayMs: 60_000 });
});

Deno.test("transient failures are retried, capped, across the whole window; the last retry is at its end", () => {
  const windowMs = 30 * 60_000;
  const capped = { ...policy, windowMs, maxMs: 300_000 };
  const errors = [wecomError(-1), wecomError(45009), httpError(500)];
  const times: number[] = [];
  let now = 0;
  let attempts = 0;
  for (;;) {
    attempts++;
    times.push(now);
    const error = errors[attempts % errors.length];
    const decision = decideRetry(error, { attempts, firstAttemptAt: 0, now }, capped, top);
    if (decision.action === "dead") {
      assert.equal(decision.cause, "window");
      assert.match(
        decision.reason,
        /gave up after \d+ attempts over 30 min \(retry window 30 min\)/,
      );
      break;
    }
    assert(decision.delayMs <= 300_000, "back-off capped at the maximum");
    now += decision.delayMs;
  }
  // 1 s, 2 s … 256 s, then 300 s each: far more than the old 8 attempts (~4 min).
  assert(attempts > 8, `${attempts} attempts`);
  assert.equal(times.at(-1), windowMs, "the last attempt is at the window's end");
  assert(times.at(-2)! < windowMs);
});

Deno.test("an item first tried long ago is given up when it fails after its window", () => {
  const late = { attempts: 3, firstAttemptAt: 0, now: 31 * 60_000 };
  const decision = decideRetry(timeoutError(), late, policy, top);
  assert.equal(decision.action === "dead" && decision.cause, "window");
});

Deno.test("backoffDelay doubles, caps and jitters between half and all", () => {
  assert.deepEqual([1, 2, 3, 4].map((n) => backoffDelay(n, 1000, 300_000, top)), [
    1000,
    2000,
    4000,
    8000,
  ]);
  assert.equal(backoffDelay(20, 1000, 300_000, top), 300_000);
  assert.equal(backoffDelay(3, 1000, 300_000, () => 0), 2000);
  assert.equal(backoffDelay(1000, 1000, 300_000, top), 300_000, "no overflow");
});

Deno.test("describeError names the errcode and HTTP status", () => {
  assert.match(describeError(wecomError(81013)), /failed with errcode 81013: /);
  assert.match(describeError(httpError(503)), /HTTP 503/);
  assert.equal(describeError("plain"), "plain");
});

Deno.test("describeError names an errcode once, not again in front of WeCom's own message", () => {
  const text = describeError(
    new WeComApiError({ api: "gettoken", errcode: 40001, errmsg: "invalid credential" }),
  );
  assert.match(text, /^WeCom gettoken failed with errcode 40001: /);
  assert.equal(text.match(/40001/g)?.length, 1, text);
});

import assert from "node:assert/strict";
import {
  backoffDelay,
  decideRetry,
  DEFAULT_RETRY_POLICY,
  describeError,
} from "../../src/delivery/retry_policy.ts";
import { httpError, timeoutError, wecomError } from "./fake_client.ts";

const policy = DEFAULT_RETRY_POLICY;
const top = () => 1;

Deno.test("busy, rate limits, token, HTTP 5xx and network failures are retried", () => {
  for (
    const error of [
      wecomError(-1),
      wecomError(45009),
      wecomError(45033),
      wecomError(42001),
      httpError(503),
      timeoutError(),
      new TypeError("error sending request: connection refused"),
    ]
  ) {
    const decision = decideRetry(error, 1, policy, top);
    assert.equal(decision.action, "retry", describeError(error));
    assert.equal(decision.action === "retry" && decision.delayMs, 1000);
  }
});

Deno.test("permanent and credential errors are not retried", () => {
  for (const errcode of [81013, 40003, 60011, 40058, 45002, 40001, 40013]) {
    const decision = decideRetry(wecomError(errcode), 1, policy, top);
    assert.equal(decision.action, "dead", `errcode ${errcode}`);
    assert.match(
      decision.action === "dead" ? decision.reason : "",
      new RegExp(`errcode ${errcode}`),
    );
  }
});

Deno.test("60020 is retried with a long back-off; attempts run out", () => {
  const ip = decideRetry(wecomError(60020), 1, policy, top);
  assert.deepEqual(ip, { action: "retry", kind: "ip_not_trusted", delayMs: 60_000 });
  const last = decideRetry(wecomError(-1), policy.maxAttempts, policy, top);
  assert.equal(last.action, "dead");
  assert.match(last.action === "dead" ? last.reason : "", /gave up after 8 attempts/);
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
  assert.match(describeError(wecomError(81013)), /^errcode 81013: /);
  assert.match(describeError(httpError(503)), /HTTP 503/);
  assert.equal(describeError("plain"), "plain");
});

import assert from "node:assert/strict";
import type { AppConfig } from "../../src/config/types.ts";
import type { LogFields, LogLevel } from "../../src/log.ts";
import { keys } from "../../src/store/keys.ts";
import { createWeComClient, type WeComClientDeps } from "../../src/wecom/client.ts";
import { WeComApiError } from "../../src/wecom/errors.ts";
import {
  fakeAppConfig,
  type FakeWeComApi,
  type FakeWeComOptions,
  startFakeWeComApi,
} from "../../src/simulator/wecom_api.ts";

interface LogLine {
  level: LogLevel;
  message: string;
  fields?: LogFields;
}

interface Fixture extends AsyncDisposable {
  api: FakeWeComApi;
  kv: Deno.Kv;
  app: AppConfig;
  clock: { t: number };
  logs: LogLine[];
  client: ReturnType<typeof createWeComClient>;
  /** Another client on the same KV, as a second process would have. */
  newClient(deps?: Partial<WeComClientDeps>): ReturnType<typeof createWeComClient>;
}

async function fixture(
  fakeOptions: FakeWeComOptions = {},
  deps: Partial<WeComClientDeps> = {},
): Promise<Fixture> {
  const clock = { t: 1_700_000_000_000 };
  const now = () => clock.t;
  const api = startFakeWeComApi({ now, ...fakeOptions });
  const kv = await Deno.openKv(":memory:");
  const logs: LogLine[] = [];
  const newClient = (more: Partial<WeComClientDeps> = {}) =>
    createWeComClient({
      kv,
      now,
      timeoutMs: 2_000,
      log: (level, message, fields) => logs.push({ level, message, fields }),
      ...deps,
      ...more,
    });
  return {
    api,
    kv,
    app: fakeAppConfig(api.url),
    clock,
    logs,
    client: newClient(),
    newClient,
    async [Symbol.asyncDispose]() {
      kv.close();
      await api.close();
    },
  };
}

const hi = { msgtype: "text", content: "hi" } as const;

async function rejection(promise: Promise<unknown>): Promise<WeComApiError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof WeComApiError, `expected WeComApiError, got ${error}`);
    return error;
  }
  assert.fail("expected the call to fail");
}

function issuedTokens(api: FakeWeComApi): string[] {
  return [...api.state.tokens.keys()];
}

Deno.test("send delivers text with a numeric agentid and returns WeCom's msgid", async () => {
  await using f = await fixture();
  const result = await f.client.send(f.app, "zhangsan", { msgtype: "text", content: "你好" });
  const [message] = f.api.delivered("zhangsan");
  assert.equal(result.msgId, message.msgid);
  assert.deepEqual(result.invalidUsers, []);
  assert.deepEqual(message.body, {
    touser: "zhangsan",
    msgtype: "text",
    agentid: 1000002,
    text: { content: "你好" },
  });

  await f.client.send(f.app, "zhangsan", { msgtype: "markdown", content: "**b**" });
  await f.client.send(f.app, "zhangsan", { msgtype: "file", mediaId: "M1" }, {
    duplicateCheck: true,
  });
  const [, markdown, file] = f.api.delivered("zhangsan");
  assert.deepEqual(markdown.payload, { content: "**b**" });
  assert.deepEqual(file.body, {
    touser: "zhangsan",
    msgtype: "file",
    agentid: 1000002,
    file: { media_id: "M1" },
    enable_duplicate_check: 1,
    duplicate_check_interval: 14_400,
  });
});

Deno.test("send refuses user ids that would broadcast, without calling WeCom", async () => {
  await using f = await fixture();
  for (const userId of ["", "a|b", "@all"]) {
    const error = await rejection(f.client.send(f.app, userId, hi));
    assert.equal(error.kind, "permanent");
    assert.match(error.message, /one member's UserID/);
  }
  assert.equal(f.api.received.length, 0);
});

Deno.test("one gettoken serves many sends, including 50 concurrent ones", async () => {
  await using f = await fixture();
  const fetched: string[] = [];
  const client = f.newClient({
    onTokenFetch: (app, outcome) => fetched.push(`${app.name}:${outcome}`),
  });
  const sends = Array.from({ length: 50 }, (_, i) => client.send(f.app, `user${i}`, hi));
  await Promise.all(sends);
  for (let i = 0; i < 5; i++) await client.send(f.app, "zhangsan", hi);
  assert.equal(f.api.gettokenCalls(), 1);
  assert.deepEqual(fetched, ["default:ok"]);
  assert.equal(f.api.delivered().length, 55);
  assert.equal(client.stats().tokenFetches, 1);
  assert.equal(client.stats().sends, 55);
  const cached = await f.kv.get<{ token: string; expiresAt: number }>(
    keys.accessToken(f.app.corpId, f.app.agentId),
  );
  assert.equal(cached.value?.token, issuedTokens(f.api)[0]);
  assert.equal(cached.value?.expiresAt, f.clock.t + 7_200_000);
});

Deno.test("two processes on one KV share one gettoken", async () => {
  await using f = await fixture();
  f.api.inject("gettoken", [{ delayMs: 150 }]);
  const a = f.newClient();
  const b = f.newClient();
  await Promise.all([
    a.send(f.app, "u1", hi),
    b.send(f.app, "u2", hi),
    a.send(f.app, "u3", hi),
    b.send(f.app, "u4", hi),
  ]);
  assert.equal(f.api.gettokenCalls(), 1);
  assert.equal(f.api.delivered().length, 4);
  assert.equal(a.stats().tokenFetches + b.stats().tokenFetches, 1);
  const lock = await f.kv.get(keys.accessTokenLock(f.app.corpId, f.app.agentId));
  assert.equal(lock.value, null, "the refresh lock is released");
});

Deno.test("the token is refreshed ahead of expiry, and refetched once expired", async () => {
  await using f = await fixture();
  await f.client.send(f.app, "u1", hi);
  const first = issuedTokens(f.api)[0];
  f.clock.t += 7_200_000 - 6 * 60_000; // 6 min left: still used
  await f.client.send(f.app, "u1", hi);
  assert.equal(f.api.gettokenCalls(), 1);

  f.clock.t += 2 * 60_000; // 4 min left: refreshed before it expires
  await f.client.send(f.app, "u1", hi);
  assert.equal(f.api.gettokenCalls(), 2);
  const second = issuedTokens(f.api)[1];
  assert.notEqual(second, first);
  assert.equal(f.api.received.at(-1)?.query.access_token, second);

  f.clock.t += 3 * 3_600_000; // long past expiry
  await f.client.send(f.app, "u1", hi);
  assert.equal(f.api.gettokenCalls(), 3);
  assert.equal(f.api.delivered().length, 4);
});

Deno.test("a failed refresh ahead of expiry keeps using the still-valid token", async () => {
  await using f = await fixture();
  await f.client.send(f.app, "u1", hi);
  f.clock.t += 7_200_000 - 60_000;
  f.api.inject("gettoken", [{ errcode: -1 }]);
  await f.client.send(f.app, "u1", hi);
  assert.equal(f.api.gettokenCalls(), 2);
  assert.equal(f.api.delivered().length, 2);
  assert.ok(f.logs.some((l) => l.level === "warn" && /refresh failed/.test(l.message)));
});

for (
  const [errcode, revoke] of [
    [42001, (api: FakeWeComApi) => api.expireTokens()],
    [40014, (api: FakeWeComApi) => api.revokeTokens()],
  ] as const
) {
  Deno.test(`errcode ${errcode} refetches the token once and the send succeeds`, async () => {
    await using f = await fixture();
    await f.client.send(f.app, "u1", hi);
    revoke(f.api);
    const result = await f.client.send(f.app, "u1", { msgtype: "text", content: "again" });
    assert.equal(f.api.gettokenCalls(), 2);
    const sends = f.api.received.filter((r) => r.api === "send");
    assert.equal(sends.length, 3);
    assert.equal(sends.at(-2)?.query.access_token, issuedTokens(f.api)[0]);
    assert.equal(sends.at(-1)?.query.access_token, issuedTokens(f.api)[1]);
    assert.equal(f.api.delivered("u1")[1].msgid, result.msgId);
    assert.equal(f.client.stats().tokenInvalidations, 1);
  });
}

Deno.test("a token rejected twice in a row fails after one refetch (no loop)", async () => {
  await using f = await fixture();
  f.api.inject("send", [{ errcode: 40014 }, { errcode: 42001 }]);
  const error = await rejection(f.client.send(f.app, "u1", hi));
  assert.equal(error.kind, "token_invalid");
  assert.equal(error.errcode, 42001);
  assert.equal(error.retryable, true);
  assert.equal(f.api.gettokenCalls(), 2);
  assert.equal(f.api.received.filter((r) => r.api === "send").length, 2);
});

Deno.test("a wrong secret (40001) is sticky: no second gettoken, one loud log, clear text", async () => {
  await using f = await fixture();
  const wrong = { ...f.app, corpSecret: "not-the-secret" };
  const first = await rejection(f.client.send(wrong, "u1", hi));
  assert.equal(first.kind, "credentials");
  assert.equal(first.errcode, 40001);
  assert.match(first.message, /corp_secret/);
  assert.match(first.message, /an hour/);
  assert.ok(!first.message.includes("not-the-secret"));

  const second = await rejection(f.client.send(wrong, "u2", hi));
  assert.equal(second.kind, "credentials");
  assert.match(second.message, /next attempt after/);
  const otherProcess = await rejection(f.newClient().send(wrong, "u3", hi));
  assert.equal(otherProcess.errcode, 40001);
  assert.equal(f.api.gettokenCalls(), 1, "gettoken is not called again with the same secret");

  const errors = f.logs.filter((l) => l.level === "error");
  assert.equal(errors.length, 1);
  assert.match(errors[0].message, /corp_secret/);
  const stored = await f.kv.get(keys.credentialFailure(f.app.corpId, f.app.agentId));
  assert.ok(!JSON.stringify(stored.value).includes("not-the-secret"), "the secret is not stored");

  // After an hour the same secret is tried once more.
  f.clock.t += 3_600_001;
  await rejection(f.client.send(wrong, "u1", hi));
  assert.equal(f.api.gettokenCalls(), 2);

  // A corrected secret clears the failure at once.
  await f.client.send(f.app, "u1", hi);
  assert.equal(f.api.gettokenCalls(), 3);
  assert.equal(f.api.delivered().length, 1);
  const cleared = await f.kv.get(keys.credentialFailure(f.app.corpId, f.app.agentId));
  assert.equal(cleared.value, null);
});

Deno.test("a wrong corp id (40013) names corp_id", async () => {
  await using f = await fixture();
  const error = await rejection(f.client.send({ ...f.app, corpId: "wwwrong" }, "u1", hi));
  assert.equal(error.kind, "credentials");
  assert.equal(error.errcode, 40013);
  assert.match(error.message, /corp_id/);
});

Deno.test("60020 is ip_not_trusted with the trusted-IP fix, logged loudly once", async () => {
  await using f = await fixture();
  f.api.inject("send", [{ errcode: 60020 }, { errcode: 60020 }]);
  const error = await rejection(f.client.send(f.app, "u1", hi));
  assert.equal(error.kind, "ip_not_trusted");
  assert.equal(error.retryable, false);
  assert.match(error.message, /企业可信IP \(trusted IPs\)/);
  assert.match(error.message, /about a minute/);
  assert.match(error.message, /127\.0\.0\.1/);
  await rejection(f.client.send(f.app, "u1", hi));
  assert.equal(f.logs.filter((l) => l.level === "error").length, 1);

  f.api.inject("gettoken", [{ errcode: 60020 }]);
  const onToken = await rejection(f.newClient().send({ ...f.app, agentId: "1000009" }, "u1", hi));
  assert.equal(onToken.kind, "ip_not_trusted");
  assert.equal(onToken.api, "gettoken");
});

Deno.test("busy, rate limits, HTTP 5xx, timeouts and dropped connections are retryable, not looped", async () => {
  await using f = await fixture({}, { timeoutMs: 100 });
  await f.client.send(f.app, "warm", hi);
  const cases: Array<[Parameters<FakeWeComApi["inject"]>[1][number], string, number]> = [
    [{ errcode: -1 }, "retry", -1],
    [{ errcode: 45009 }, "retry", 45009],
    [{ errcode: 45033 }, "retry", 45033],
    [{ httpStatus: 503 }, "retry", -2],
    [{ httpStatus: 500 }, "retry", -2],
    [{ delayMs: 400 }, "network", -2],
    ["drop-connection", "network", -2],
  ];
  for (const [behaviour, kind, errcode] of cases) {
    const before = f.api.received.length;
    f.api.inject("send", [behaviour]);
    const error = await rejection(f.client.send(f.app, "u1", hi));
    assert.equal(error.kind, kind, JSON.stringify(behaviour));
    assert.equal(error.errcode, errcode, JSON.stringify(behaviour));
    assert.equal(error.retryable, true);
    assert.equal(f.api.received.length, before + 1, "the client makes one call only");
  }
  assert.equal(f.client.stats().errcodes["-2"], 4);
});

Deno.test("a send that timed out but arrived is not delivered twice when retried with the duplicate check", async () => {
  await using f = await fixture({}, { timeoutMs: 100 });
  await f.client.send(f.app, "warm", hi);
  f.api.inject("send", [{ delayMs: 250 }]);
  const message = { msgtype: "text", content: "the answer is 42" } as const;
  const checked = { duplicateCheck: true };
  const error = await rejection(f.client.send(f.app, "u1", message, checked));
  assert.equal(error.kind, "network");
  assert.match(error.message, /timed out after 100 ms/);
  await new Promise((resolve) => setTimeout(resolve, 250)); // the fake finishes the slow send
  assert.equal(f.api.delivered("u1").length, 1, "WeCom delivered it despite the timeout");

  const retry = await f.client.send(f.app, "u1", message, checked);
  assert.equal(f.api.delivered("u1").length, 1);
  assert.equal(f.api.state.duplicatesSuppressed.length, 1);
  assert.equal(retry.msgId, f.api.delivered("u1")[0].msgid);
  const body = f.api.received.filter((r) => r.api === "send").at(-1)!.body as Record<
    string,
    unknown
  >;
  assert.equal(body.enable_duplicate_check, 1);
  assert.equal(body.duplicate_check_interval, 14_400, "WeCom's maximum, 4 hours");
});

Deno.test("a first send without the duplicate check is not recognised by a checked retry: it arrives twice", async () => {
  await using f = await fixture({}, { timeoutMs: 100 });
  await f.client.send(f.app, "warm", hi);
  f.api.inject("send", [{ delayMs: 250 }]);
  const message = { msgtype: "text", content: "the answer is 42" } as const;
  await rejection(f.client.send(f.app, "u1", message));
  await new Promise((resolve) => setTimeout(resolve, 250));
  await f.client.send(f.app, "u1", message, { duplicateCheck: true });
  assert.equal(f.api.delivered("u1").length, 2, "why every send of the gateway carries the check");
});

Deno.test("the access token and secret never appear in errors or logs", async () => {
  await using f = await fixture({}, { timeoutMs: 100 });
  await f.client.send(f.app, "warm", hi);
  const token = issuedTokens(f.api)[0];
  const errors: WeComApiError[] = [];
  f.api.inject("send", [{ delayMs: 300 }]);
  errors.push(await rejection(f.client.send(f.app, "u1", hi)));
  f.api.inject("send", [{ httpStatus: 502 }, "drop-connection", { errcode: 40058 }]);
  for (let i = 0; i < 3; i++) errors.push(await rejection(f.client.send(f.app, "u1", hi)));

  // A fetch failing the way Deno's does: its message quotes the URL.
  const quoting: typeof fetch = (input) =>
    Promise.reject(new TypeError(`error sending request for url (${input}): connection refused`));
  const broken = f.newClient({ fetch: quoting });
  errors.push(await rejection(broken.send(f.app, "u1", hi)));
  // A process with no token yet (this one keeps its fresh token in memory).
  await f.kv.delete(keys.accessToken(f.app.corpId, f.app.agentId));
  errors.push(await rejection(f.newClient({ fetch: quoting }).send(f.app, "u1", hi)));
  assert.match(errors.at(-1)!.message, /gettoken failed/);
  assert.match(errors.at(-1)!.message, /127\.0\.0\.1/);

  for (const error of errors) {
    const text = `${error.message} ${error.errmsg} ${error.stack}`;
    assert.ok(!text.includes(token), `token leaked: ${error.message}`);
    assert.ok(!text.includes(f.app.corpSecret), `secret leaked: ${error.message}`);
  }
  const logged = JSON.stringify(f.logs);
  assert.ok(!logged.includes(token));
  assert.ok(!logged.includes(f.app.corpSecret));
});

Deno.test("recall recalls a sent message; a foreign or unknown msgid is a permanent error", async () => {
  await using f = await fixture();
  const { msgId } = await f.client.send(f.app, "u1", hi);
  await f.client.recall(f.app, msgId);
  assert.equal(f.api.delivered("u1")[0].recalled, true);
  assert.deepEqual(f.api.received.at(-1)?.body, { msgid: msgId });

  const unknown = await rejection(f.client.recall(f.app, "no-such-msgid"));
  assert.equal(unknown.errcode, 40058);
  assert.equal(unknown.kind, "permanent");
  assert.equal(unknown.api, "message/recall");
  const empty = await rejection(f.client.recall(f.app, ""));
  assert.equal(empty.kind, "permanent");
  assert.equal(f.client.stats().recalls, 3);
  assert.equal(f.client.stats().recallFailures, 2);
});

Deno.test("recall refetches a revoked token once, like send", async () => {
  await using f = await fixture();
  const { msgId } = await f.client.send(f.app, "u1", hi);
  f.api.revokeTokens();
  await f.client.recall(f.app, msgId);
  assert.equal(f.api.gettokenCalls(), 2);
  assert.equal(f.api.delivered("u1")[0].recalled, true);
});

Deno.test("a member outside the visible range gives 81013 with an explanation", async () => {
  await using f = await fixture({ users: ["alice"] });
  const error = await rejection(f.client.send(f.app, "mallory", hi));
  assert.equal(error.errcode, 81013);
  assert.equal(error.kind, "permanent");
  assert.match(error.message, /visible range/);
});

Deno.test("fetchTokenOnline proves credentials and can clear a sticky failure", async () => {
  await using f = await fixture();
  const wrong = { ...f.app, corpSecret: "wrong" };
  const bad = await f.client.fetchTokenOnline(wrong);
  assert.equal(bad.ok, false);
  assert.equal(!bad.ok && bad.error.kind, "credentials");
  await rejection(f.client.send(wrong, "u1", hi));
  assert.equal(f.api.gettokenCalls(), 1, "the failure recorded by the check is sticky for send");

  assert.deepEqual(await f.client.fetchTokenOnline(f.app), { ok: true });
  assert.equal(f.api.gettokenCalls(), 2);
  assert.equal(await f.client.getToken(f.app), issuedTokens(f.api)[0]);
  await f.client.send(f.app, "u1", hi);
  assert.equal(f.api.gettokenCalls(), 2, "the checked token is cached");
});

Deno.test("a non-JSON answer and an unknown path are classified", async () => {
  await using f = await fixture();
  const html: typeof fetch = (input) =>
    Promise.resolve(
      String(input).includes("gettoken")
        ? Response.json({ errcode: 0, access_token: "T", expires_in: 7200 })
        : new Response("<html>captive portal</html>", { status: 200 }),
    );
  const portal = await rejection(f.newClient({ fetch: html }).send(f.app, "u1", hi));
  assert.equal(portal.kind, "retry");
  assert.match(portal.message, /not a JSON object/);

  const wrongBase = await rejection(
    f.newClient().send({ ...f.app, apiBase: `${f.api.url}/nope` }, "u1", hi),
  );
  assert.equal(wrongBase.httpStatus, 404);
  assert.equal(wrongBase.kind, "permanent");
  assert.match(wrongBase.message, /api_base/);
});

/**
 * Tests of the fake WeCom API itself, spoken to with plain `fetch`, so that the
 * client tests can trust it behaves like the documented API.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  FAKE_APP,
  type FakeApp,
  type FakeWeComApi,
  type FakeWeComOptions,
  startFakeWeComApi,
} from "../../src/simulator/wecom_api.ts";

const OTHER_APP: FakeApp = {
  corpId: FAKE_APP.corpId,
  corpSecret: "other-secret",
  agentId: "1000003",
};

interface Fixture extends AsyncDisposable {
  api: FakeWeComApi;
  clock: { t: number };
  getJson(path: string): Promise<Record<string, unknown>>;
  postJson(path: string, body: unknown): Promise<Record<string, unknown>>;
  token(app?: FakeApp): Promise<string>;
  send(token: string, body: Record<string, unknown>): Promise<Record<string, unknown>>;
}

function fixture(options: FakeWeComOptions = {}): Fixture {
  const clock = { t: 1_700_000_000_000 };
  const api = startFakeWeComApi({ now: () => clock.t, apps: [FAKE_APP, OTHER_APP], ...options });
  const getJson = async (path: string) => {
    const response = await fetch(api.url + path);
    return await response.json();
  };
  const postJson = async (path: string, body: unknown) => {
    const response = await fetch(api.url + path, {
      method: "POST",
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    return await response.json();
  };
  const token = async (app: FakeApp = FAKE_APP) => {
    const answer = await getJson(
      `/cgi-bin/gettoken?corpid=${app.corpId}&corpsecret=${encodeURIComponent(app.corpSecret)}`,
    );
    assert.equal(answer.errcode, 0);
    return String(answer.access_token);
  };
  const send = (token: string, body: Record<string, unknown>) =>
    postJson(`/cgi-bin/message/send?access_token=${encodeURIComponent(token)}`, body);
  return {
    api,
    clock,
    getJson,
    postJson,
    token,
    send,
    [Symbol.asyncDispose]: () => api.close(),
  };
}

function text(touser: string, content: string, extra: Record<string, unknown> = {}) {
  return { touser, msgtype: "text", agentid: 1000002, text: { content }, ...extra };
}

Deno.test("fake gettoken checks corp id and secret and issues expiring tokens", async () => {
  await using f = fixture({ tokenTtlSeconds: 600 });
  assert.equal((await f.getJson("/cgi-bin/gettoken?corpsecret=x")).errcode, 41002);
  assert.equal((await f.getJson(`/cgi-bin/gettoken?corpid=${FAKE_APP.corpId}`)).errcode, 41004);
  assert.equal((await f.getJson("/cgi-bin/gettoken?corpid=wwnope&corpsecret=x")).errcode, 40013);
  const wrong = await f.getJson(`/cgi-bin/gettoken?corpid=${FAKE_APP.corpId}&corpsecret=bad`);
  assert.equal(wrong.errcode, 40001);
  assert.match(String(wrong.errmsg), /more info at https:\/\/open\.work\.weixin\.qq\.com/);

  const ok = await f.getJson(
    `/cgi-bin/gettoken?corpid=${FAKE_APP.corpId}&corpsecret=${FAKE_APP.corpSecret}`,
  );
  assert.equal(ok.errcode, 0);
  assert.equal(ok.errmsg, "ok");
  assert.equal(ok.expires_in, 600);
  assert.ok(String(ok.access_token).length >= 32);
  const second = await f.token();
  assert.notEqual(second, ok.access_token, "each gettoken issues a new random token");

  assert.equal(f.api.gettokenCalls(), 6);
  assert.equal(f.api.gettokenCalls(FAKE_APP.agentId), 2);
  assert.equal(f.api.gettokenCalls(OTHER_APP.agentId), 0);
});

Deno.test("fake send rejects missing, unknown, revoked and expired tokens", async () => {
  await using f = fixture({ tokenTtlSeconds: 600 });
  assert.equal((await f.postJson("/cgi-bin/message/send", text("u1", "hi"))).errcode, 41001);
  assert.equal((await f.send("bogus", text("u1", "hi"))).errcode, 40014);

  const token = await f.token();
  assert.equal((await f.send(token, text("u1", "hi"))).errcode, 0);
  f.clock.t += 600_000;
  assert.equal((await f.send(token, text("u1", "hi"))).errcode, 42001);

  const fresh = await f.token();
  f.api.revokeTokens();
  assert.equal((await f.send(fresh, text("u1", "hi"))).errcode, 40014);
  const again = await f.token();
  f.api.expireTokens();
  assert.equal((await f.send(again, text("u1", "hi"))).errcode, 42001);
  assert.equal(f.api.delivered().length, 1);
});

Deno.test("fake send validates the request like WeCom", async () => {
  await using f = fixture({ users: ["alice", "Bob"] });
  const token = await f.token();
  const other = await f.token(OTHER_APP);

  assert.equal((await f.send(token, "{not json" as never)).errcode, 40058);
  assert.equal((await f.send(token, text("alice", ""))).errcode, 44004);
  assert.equal(
    (await f.send(token, { ...text("alice", "hi"), agentid: undefined })).errcode,
    40056,
  );
  assert.equal((await f.send(other, text("alice", "hi"))).errcode, 301002);
  assert.equal((await f.send(token, text("", "hi"))).errcode, 82001);
  assert.equal(
    (await f.send(token, { touser: "alice", msgtype: "nope", agentid: 1000002 })).errcode,
    40008,
  );
  assert.equal(
    (await f.send(token, { touser: "alice", msgtype: "image", agentid: 1000002, image: {} }))
      .errcode,
    40007,
  );
  assert.equal((await f.send(token, text("mallory", "hi"))).errcode, 81013);
  assert.equal(f.api.delivered().length, 0);

  const partial = await f.send(token, text("Bob|mallory", "hi"));
  assert.equal(partial.errcode, 0);
  assert.equal(partial.invaliduser, "mallory");
  assert.deepEqual(f.api.delivered().map((m) => m.touser), ["Bob"]);

  const image = await f.send(token, {
    touser: "alice",
    msgtype: "image",
    agentid: "1000002",
    image: { media_id: "MEDIA" },
  });
  assert.equal(image.errcode, 0);
  assert.deepEqual(f.api.delivered("alice")[0].payload, { media_id: "MEDIA" });
  assert.equal(f.api.received.filter((r) => r.api === "send").length, 10);
});

Deno.test("fake send cuts text over 2048 bytes at a character boundary, or rejects it strictly", async () => {
  {
    await using f = fixture();
    const token = await f.token();
    const long = "汉".repeat(700); // 2100 bytes
    const answer = await f.send(token, text("u1", long));
    assert.equal(answer.errcode, 0);
    const [message] = f.api.delivered("u1");
    assert.equal(message.truncated, true);
    const content = String(message.payload.content);
    assert.equal(new TextEncoder().encode(content).length, 2046);
    assert.equal(content, "汉".repeat(682));
    await f.send(token, text("u1", "x".repeat(2048)));
    assert.equal(f.api.delivered("u1")[1].truncated, false);
  }
  {
    await using f = fixture({ oversize: "reject" });
    const token = await f.token();
    assert.equal((await f.send(token, text("u1", "x".repeat(2049)))).errcode, 45002);
    assert.equal(f.api.delivered().length, 0);
  }
});

Deno.test("fake drops the 31st message a minute to one member silently", async () => {
  await using f = fixture();
  const token = await f.token();
  for (let i = 0; i < 30; i++) {
    assert.equal((await f.send(token, text("u1", `m${i}`))).errcode, 0);
  }
  const dropped = await f.send(token, text("u1", "m30"));
  assert.equal(dropped.errcode, 0, "WeCom answers success for a dropped message");
  assert.equal(typeof dropped.msgid, "string");
  assert.equal(f.api.delivered("u1").length, 30);
  assert.deepEqual(f.api.state.dropped.map((m) => m.payload.content), ["m30"]);

  assert.equal((await f.send(token, text("u2", "other member"))).errcode, 0);
  assert.equal(f.api.delivered("u2").length, 1, "the limit is per member");

  f.clock.t += 60_001;
  await f.send(token, text("u1", "next minute"));
  assert.equal(f.api.delivered("u1").length, 31);
});

Deno.test("fake applies the hourly limit over a sliding hour", async () => {
  await using f = fixture({ perMinute: 3, perHour: 5 });
  const token = await f.token();
  for (let i = 0; i < 8; i++) {
    await f.send(token, text("u1", `m${i}`));
    f.clock.t += 30_000;
  }
  // 2 a minute pass the minute limit; the hour limit stops deliveries after 5.
  assert.equal(f.api.delivered("u1").length, 5);
  assert.equal(f.api.state.dropped.length, 3);
  f.clock.t += 3_600_000;
  await f.send(token, text("u1", "later"));
  assert.equal(f.api.delivered("u1").length, 6);
});

Deno.test("fake duplicate check: the same request JSON within the interval is delivered once", async () => {
  await using f = fixture();
  const token = await f.token();
  const checked = { enable_duplicate_check: 1, duplicate_check_interval: 14_400 };
  const first = await f.send(token, text("u1", "hello", checked));
  const dup = await f.send(token, text("u1", "hello", checked));
  assert.equal(dup.errcode, 0);
  assert.equal(dup.msgid, first.msgid, "the answer names the message already delivered");
  assert.equal(f.api.delivered("u1").length, 1);
  assert.equal(f.api.state.duplicatesSuppressed.length, 1);

  await f.send(token, text("u1", "hello", { enable_duplicate_check: 0 }));
  assert.equal(f.api.delivered("u1").length, 2, "without the flag a copy is delivered");
  await f.send(token, text("u1", "hello!", checked));
  assert.equal(f.api.delivered("u1").length, 3, "different content is not a duplicate");
  await f.send(token, text("u2", "hello", checked));
  assert.equal(f.api.delivered("u2").length, 1, "another member is not a duplicate");

  f.clock.t += 4 * 3_600_000 + 1000;
  await f.send(await f.token(), text("u1", "hello", checked)); // tokens live 2 h
  assert.equal(f.api.delivered("u1").length, 4, "outside the interval it is delivered again");
  assert.equal(f.api.state.duplicatesSuppressed.length, 1);
});

Deno.test("fake duplicate check: a first copy sent without the check is no original (the request JSON differs)", async () => {
  await using f = fixture();
  const token = await f.token();
  await f.send(token, text("u1", "the answer"));
  await f.send(
    token,
    text("u1", "the answer", { enable_duplicate_check: 1, duplicate_check_interval: 1800 }),
  );
  assert.equal(f.api.delivered("u1").length, 2, "the checked resend is delivered again");
  await f.send(
    token,
    text("u1", "the answer", { enable_duplicate_check: 1, duplicate_check_interval: 3600 }),
  );
  assert.equal(f.api.delivered("u1").length, 3, "another interval is another request JSON");
  assert.equal(f.api.state.duplicatesSuppressed.length, 0);
});

Deno.test("fake duplicate check, content reading: the message alone decides, against any delivered copy", async () => {
  await using f = fixture({ duplicateCheck: "content" });
  const token = await f.token();
  await f.send(token, text("u1", "the answer"));
  await f.send(
    token,
    text("u1", "the answer", { enable_duplicate_check: 1, duplicate_check_interval: 1800 }),
  );
  assert.equal(f.api.delivered("u1").length, 1);
  assert.equal(f.api.state.duplicatesSuppressed.length, 1);
  await f.send(token, text("u1", "the answer\u200c", { enable_duplicate_check: 1 }));
  assert.equal(f.api.delivered("u1").length, 2, "an invisible difference is a difference");
});

Deno.test("fake recall: same app within 24 h only, once", async () => {
  await using f = fixture();
  const token = await f.token();
  const other = await f.token(OTHER_APP);
  const recall = (t: string, msgid: unknown) =>
    f.postJson(`/cgi-bin/message/recall?access_token=${t}`, { msgid });

  const { msgid } = await f.send(token, text("u1", "oops"));
  const foreign = await recall(other, msgid);
  assert.equal(foreign.errcode, 40058);
  assert.match(String(foreign.errmsg), /not sent by this agent/);
  assert.equal((await recall(token, "unknown")).errcode, 40058);

  assert.equal((await recall(token, msgid)).errcode, 0);
  const [message] = f.api.delivered("u1");
  assert.equal(message.recalled, true, "a recalled message stays recorded, marked");
  assert.equal((await recall(token, msgid)).errcode, 40058);
  assert.equal(f.api.state.recalls.length, 1);

  const late = await f.send(token, text("u1", "old"));
  f.clock.t += 24 * 3_600_000 + 1;
  const late24 = await recall(await f.token(), late.msgid);
  assert.equal(late24.errcode, 40058);
  assert.match(String(late24.errmsg), /24 hours/);
  assert.equal((await recall("", late.msgid)).errcode, 41001);
});

Deno.test("fake consumes injected behaviours in order, per API then 'any'", async () => {
  await using f = fixture();
  f.api.inject("gettoken", [{ errcode: -1 }, { httpStatus: 503 }]);
  f.api.inject("any", [{ errcode: 45009 }]);
  assert.equal((await f.getJson(`/cgi-bin/gettoken?corpid=x`)).errcode, -1);
  const unavailable = await fetch(`${f.api.url}/cgi-bin/gettoken?corpid=x`);
  assert.equal(unavailable.status, 503);
  assert.match(await unavailable.text(), /503/);
  assert.equal((await f.getJson(`/cgi-bin/gettoken?corpid=x`)).errcode, 45009);
  const token = await f.token();

  f.api.inject("send", [{ errcode: 60020 }]);
  const refused = await f.send(token, text("u1", "hi"));
  assert.equal(refused.errcode, 60020);
  assert.match(String(refused.errmsg), /from ip: 127\.0\.0\.1/);
  assert.equal((await f.send(token, text("u1", "hi"))).errcode, 0);
  assert.equal(f.api.received.length, 6, "injected answers are recorded as received too");
});

Deno.test("fake drop-connection breaks the answer and handles nothing", async () => {
  await using f = fixture();
  const token = await f.token();
  f.api.inject("send", ["drop-connection"]);
  await assert.rejects(async () => {
    const response = await fetch(`${f.api.url}/cgi-bin/message/send?access_token=${token}`, {
      method: "POST",
      body: JSON.stringify(text("u1", "hi")),
    });
    await response.text();
  }, TypeError);
  assert.equal(f.api.delivered().length, 0);
});

Deno.test("fake delay answers late but still delivers, and close() cuts a pending delay", async () => {
  await using f = fixture();
  const token = await f.token();
  f.api.inject("send", [{ delayMs: 80 }]);
  const started = performance.now();
  assert.equal((await f.send(token, text("u1", "slow"))).errcode, 0);
  assert.ok(performance.now() - started >= 70);
  assert.equal(f.api.delivered("u1").length, 1);

  f.api.inject("send", [{ delayMs: 60_000 }]);
  const pending = f.send(token, text("u1", "very slow")).catch((error) => error);
  await new Promise((resolve) => setTimeout(resolve, 30));
  const closing = performance.now();
  await f.api.close();
  assert.ok(performance.now() - closing < 5_000, "close() does not wait for the delay");
  await pending;
});

Deno.test("fake answers 404 for unknown paths and 40058 for a GET send", async () => {
  await using f = fixture();
  const missing = await fetch(`${f.api.url}/cgi-bin/media/nope`);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  const token = await f.token();
  assert.equal((await f.getJson(`/cgi-bin/message/send?access_token=${token}`)).errcode, 40058);
});

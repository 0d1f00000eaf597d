import assert from "node:assert/strict";
import type { AppConfig, GatewayConfig } from "../../src/config/types.ts";
import { importAppCrypto } from "../../src/crypto/mod.ts";
import { startGateway } from "../../src/gateway.ts";
import { listJobs } from "../../src/records/job_store/mod.ts";
import { setLogSink } from "../../src/log.ts";
import { keys } from "../../src/store/keys.ts";
import {
  anyMessage,
  eventMessage,
  sealCallback,
  sealVerification,
  textMessage,
} from "../../src/simulator/seal.ts";
import { byName, ciphertextOf } from "../crypto/vectors.ts";
import { randomAlnum, randomApp, testConfig, VECTOR_APP_A, VECTOR_APP_B } from "../fakes/config.ts";

const vector = byName;

// Keep test output readable: capture warnings instead of printing them.
const logged: string[] = [];
setLogSink({ format: "json", level: "debug", write: (line) => logged.push(line) });

interface Harness {
  base: string;
  kv: Deno.Kv;
  config: GatewayConfig;
  post(path: string, query: string, body: BodyInit, headers?: HeadersInit): Promise<Response>;
  close(): Promise<void>;
}

/** An edge gateway (intake only) on 127.0.0.1:0 with KV in memory. */
async function harness(
  apps: AppConfig[],
  overrides: Partial<GatewayConfig> = {},
): Promise<Harness> {
  const config = await testConfig(apps, overrides);
  const kv = await Deno.openKv(":memory:");
  const gateway = await startGateway(config, { role: "edge", kv });
  const base = `http://127.0.0.1:${gateway.address!.port}`;
  return {
    base,
    kv,
    config,
    post: (path, query, body, headers) =>
      fetch(`${base}${path}?${query}`, { method: "POST", body, headers }),
    close: async () => {
      await gateway.stop();
      kv.close();
    },
  };
}

async function queuedJobs(kv: Deno.Kv) {
  return await listJobs(kv, { state: "queued" });
}

async function sealedText(app: AppConfig, content: string, msgId: string, userId = "lisi") {
  const crypto = await importAppCrypto(app.encodingAesKey, app.token, app.corpId);
  const xml = textMessage({ corpId: app.corpId, agentId: app.agentId, userId, content, msgId });
  return await sealCallback(crypto, xml, { corpId: app.corpId, agentId: app.agentId });
}

Deno.test("GET URL verification answers the official vectors' echostr plaintext, bare", async () => {
  const h = await harness([VECTOR_APP_A, VECTOR_APP_B], { replayWindowSeconds: 0 });
  try {
    for (const name of ["A1", "B1"]) {
      const v = vector(name);
      const query = `msg_signature=${v.msg_signature}&timestamp=${v.timestamp}&nonce=${v.nonce}` +
        `&echostr=${encodeURIComponent(ciphertextOf(v))}`;
      const response = await fetch(`${h.base}/wecom/callback?${query}`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
      assert.equal(await response.text(), v.plaintext);
    }
  } finally {
    await h.close();
  }
});

Deno.test("GET URL verification works when echostr carries a raw '+' (not percent-encoded)", async () => {
  const h = await harness([VECTOR_APP_B], { replayWindowSeconds: 0 });
  try {
    const v = vector("B1");
    assert.ok(ciphertextOf(v).includes("+"));
    const query = `msg_signature=${v.msg_signature}&timestamp=${v.timestamp}&nonce=${v.nonce}` +
      `&echostr=${ciphertextOf(v).replaceAll("/", "%2F").replaceAll("=", "%3D")}`;
    const response = await fetch(`${h.base}/wecom/callback?${query}`);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), v.plaintext);
  } finally {
    await h.close();
  }
});

Deno.test("GET URL verification with fresh keys, on the shared and the per-app path", async () => {
  const app = randomApp({ name: "sales" });
  const h = await harness([app, randomApp({ name: "other" })]);
  try {
    const crypto = await importAppCrypto(app.encodingAesKey, app.token, app.corpId);
    for (const path of ["/wecom/callback", "/wecom/callback/sales"]) {
      const query = await sealVerification(crypto, "8120911541203950123");
      const response = await fetch(`${h.base}${path}?${query}`);
      assert.equal(response.status, 200, path);
      assert.equal(await response.text(), "8120911541203950123");
    }
    // The app's own path serves only that app.
    const query = await sealVerification(crypto, "1");
    const wrong = await fetch(`${h.base}/wecom/callback/other?${query}`);
    assert.equal(wrong.status, 403);
    await wrong.body?.cancel();
  } finally {
    await h.close();
  }
});

Deno.test("GET URL verification fails with 403 on a forged signature and 400 without parameters", async () => {
  const h = await harness([VECTOR_APP_A], { replayWindowSeconds: 0 });
  try {
    const v = vector("A1");
    const forged = `msg_signature=${"0".repeat(40)}&timestamp=${v.timestamp}&nonce=${v.nonce}` +
      `&echostr=${encodeURIComponent(ciphertextOf(v))}`;
    const response = await fetch(`${h.base}/wecom/callback?${forged}`);
    assert.equal(response.status, 403);
    assert.ok(!(await response.text()).includes(v.plaintext));
    const bare = await fetch(`${h.base}/wecom/callback`);
    assert.equal(bare.status, 400);
    await bare.body?.cancel();
  } finally {
    await h.close();
  }
});

Deno.test("POST: the official vectors A2 (pad 30) and B2 (pad 22) each become exactly one job", async () => {
  const h = await harness([VECTOR_APP_A, VECTOR_APP_B], { replayWindowSeconds: 0 });
  try {
    const a2 = vector("A2");
    const bodyA = `<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>` +
      `<Encrypt><![CDATA[${a2.encrypt}]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>`;
    const queryA = `msg_signature=${a2.msg_signature}&timestamp=${a2.timestamp}&nonce=${a2.nonce}`;
    const response = await h.post("/wecom/callback", queryA, bodyA);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "");

    const b2 = vector("B2");
    const bodyB = `<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName>\n` +
      `<Encrypt><![CDATA[${b2.encrypt}]]></Encrypt>\n<AgentID><![CDATA[1000002]]></AgentID>\n</xml>`;
    const queryB = `msg_signature=${b2.msg_signature}&timestamp=${b2.timestamp}&nonce=${b2.nonce}`;
    const responseB = await h.post("/wecom/callback", queryB, bodyB);
    assert.equal(responseB.status, 200);
    await responseB.body?.cancel();

    const jobs = await queuedJobs(h.kv);
    assert.equal(jobs.length, 2);
    const byApp = Object.fromEntries(jobs.map((job) => [job.app, job]));
    const a = byApp["vector-a"];
    assert.equal(a.conversation, "wx5823bf96d3bd56c7:mycreate");
    assert.deepEqual(a.message.type === "text" && [a.message.content, a.message.msgId], [
      "hello",
      "4561255354251345929",
    ]);
    const b = byApp["vector-b"];
    assert.equal(b.conversation, "ww1436e0e65a779aee:ChenJiaShun");
    assert.equal(b.message.type === "text" && b.message.content, "你好");
  } finally {
    await h.close();
  }
});

Deno.test("POST: the same message three times (WeCom's retries) gives one job", async () => {
  const app = randomApp();
  const h = await harness([app]);
  try {
    const sealed = await sealedText(app, "retry me", "7000000000000000001");
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const response = await h.post("/wecom/callback", sealed.query, sealed.body);
      statuses.push(response.status);
      await response.body?.cancel();
    }
    // WeCom's retry may also be sealed again with a new nonce and random: still one job.
    const again = await sealedText(app, "retry me", "7000000000000000001");
    const response = await h.post("/wecom/callback", again.query, again.body);
    statuses.push(response.status);
    await response.body?.cancel();
    assert.deepEqual(statuses, [200, 200, 200, 200]);
    assert.equal((await queuedJobs(h.kv)).length, 1);
  } finally {
    await h.close();
  }
});

Deno.test("POST: concurrent duplicates still give one job", async () => {
  const app = randomApp();
  const h = await harness([app]);
  try {
    const sealed = await sealedText(app, "race", "7000000000000000002");
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => h.post("/wecom/callback", sealed.query, sealed.body)),
    );
    for (const response of responses) {
      assert.equal(response.status, 200);
      await response.body?.cancel();
    }
    assert.equal((await queuedJobs(h.kv)).length, 1);
  } finally {
    await h.close();
  }
});

Deno.test("POST: the same MsgId in two different corps is two jobs (dedupe is scoped by corp)", async () => {
  const one = randomApp({ name: "one" });
  const two = randomApp({ name: "two" });
  const h = await harness([one, two]);
  try {
    for (const app of [one, two]) {
      const sealed = await sealedText(app, "hi", "42");
      const response = await h.post("/wecom/callback", sealed.query, sealed.body);
      assert.equal(response.status, 200);
      await response.body?.cancel();
    }
    assert.equal((await queuedJobs(h.kv)).length, 2);
  } finally {
    await h.close();
  }
});

/** Two apps of one corp that share a token and EncodingAESKey (allowed by WeCom's console). */
function twinApps() {
  const one = randomApp({ name: "one", agentId: "1000011" });
  const two = { ...one, name: "two", agentId: "1000012", corpSecret: randomAlnum(43) };
  return { one, two };
}

/** The same sealed callback with the envelope's AgentID replaced (or removed with ""). */
function withEnvelopeAgent(body: string, agentId: string): string {
  const replaced = body.replace(
    /<AgentID><!\[CDATA\[[^\]]*\]\]><\/AgentID>/,
    agentId === "" ? "" : `<AgentID><![CDATA[${agentId}]]></AgentID>`,
  );
  assert.ok(replaced !== body);
  return replaced;
}

async function status(response: Promise<Response>): Promise<number> {
  const answer = await response;
  await answer.body?.cancel();
  return answer.status;
}

function mismatchLogged(agentId: string): boolean {
  return logged.some((line) => {
    const entry = JSON.parse(line);
    return entry.level === "warn" && entry.messageAgentId === agentId &&
      /callback refused: the (envelope|signed message)/.test(entry.msg ?? entry.message ?? "");
  });
}

Deno.test("POST: apps sharing token and key: a callback replayed with the other app's envelope AgentID is refused", async () => {
  const { one, two } = twinApps();
  const h = await harness([one, two]);
  try {
    const sealed = await sealedText(one, "only once", "7100000000000000001");
    assert.equal(await status(h.post("/wecom/callback", sealed.query, sealed.body)), 200);
    const replay = withEnvelopeAgent(sealed.body, two.agentId);
    assert.equal(await status(h.post("/wecom/callback", sealed.query, replay)), 403);
    assert.ok(mismatchLogged(one.agentId), "the refusal is logged with the signed AgentID");
    const jobs = await queuedJobs(h.kv);
    assert.deepEqual(jobs.map((job) => [job.app, job.agentId]), [["one", one.agentId]]);
  } finally {
    await h.close();
  }
});

Deno.test("POST: apps sharing token and key: a callback replayed on the other app's path is refused", async () => {
  const { one, two } = twinApps();
  const h = await harness([one, two]);
  try {
    const sealed = await sealedText(one, "only once", "7100000000000000002");
    assert.equal(await status(h.post("/wecom/callback/one", sealed.query, sealed.body)), 200);
    assert.equal(await status(h.post("/wecom/callback/two", sealed.query, sealed.body)), 403);
    // Without the envelope's AgentID too: the path alone never decides.
    const bare = withEnvelopeAgent(sealed.body, "");
    assert.equal(await status(h.post("/wecom/callback/two", sealed.query, bare)), 403);
    assert.ok(mismatchLogged(one.agentId));
    assert.deepEqual((await queuedJobs(h.kv)).map((job) => job.app), ["one"]);
  } finally {
    await h.close();
  }
});

Deno.test("POST: apps sharing token and key: without an envelope AgentID the signed AgentID chooses the app", async () => {
  const { one, two } = twinApps();
  // `two` is tried first: its keys open the message, but the message is for `one`.
  const h = await harness([two, one]);
  try {
    const sealed = await sealedText(one, "for one", "7100000000000000003");
    const bare = withEnvelopeAgent(sealed.body, "");
    assert.equal(await status(h.post("/wecom/callback", sealed.query, bare)), 200);
    // The same message again, now with an envelope naming `two`: refused, still one job.
    assert.equal(
      await status(
        h.post("/wecom/callback", sealed.query, withEnvelopeAgent(sealed.body, two.agentId)),
      ),
      403,
    );
    const jobs = await queuedJobs(h.kv);
    assert.deepEqual(jobs.map((job) => [job.app, job.agentId]), [["one", one.agentId]]);
  } finally {
    await h.close();
  }
});

Deno.test("POST: a signed AgentID of no configured app is refused, on the shared path too", async () => {
  const app = randomApp({ agentId: "1000020" });
  const h = await harness([app]);
  try {
    const crypto = await importAppCrypto(app.encodingAesKey, app.token, app.corpId);
    const xml = textMessage({
      corpId: app.corpId,
      agentId: "1000099",
      userId: "lisi",
      content: "x",
      msgId: "7100000000000000004",
    });
    const sealed = await sealCallback(crypto, xml, { corpId: app.corpId, agentId: app.agentId });
    assert.equal(await status(h.post("/wecom/callback", sealed.query, sealed.body)), 403);
    assert.equal(
      await status(h.post("/wecom/callback", sealed.query, withEnvelopeAgent(sealed.body, ""))),
      403,
    );
    assert.equal((await queuedJobs(h.kv)).length, 0);
  } finally {
    await h.close();
  }
});

Deno.test("POST: one MsgId in one corp is one job whichever app it comes through (dedupe per corp)", async () => {
  const one = randomApp({ name: "one", agentId: "1000031" });
  // Same corp, its own token and key.
  const two = randomApp({ name: "two", agentId: "1000032", corpId: one.corpId });
  const h = await harness([one, two]);
  try {
    for (const app of [one, two]) {
      const sealed = await sealedText(app, "hi", "7100000000000000005");
      assert.equal(await status(h.post("/wecom/callback", sealed.query, sealed.body)), 200);
    }
    assert.deepEqual((await queuedJobs(h.kv)).map((job) => job.app), ["one"]);
    // A different MsgId through the second app is its own job (positive control).
    const other = await sealedText(two, "hi", "7100000000000000006");
    assert.equal(await status(h.post("/wecom/callback", other.query, other.body)), 200);
    assert.deepEqual((await queuedJobs(h.kv)).map((job) => job.app).sort(), ["one", "two"]);
  } finally {
    await h.close();
  }
});

Deno.test("POST: an event without AgentID (batch_job_result) is acknowledged by the app whose keys open it", async () => {
  const app = randomApp({ name: "solo" });
  const h = await harness([app]);
  try {
    const crypto = await importAppCrypto(app.encodingAesKey, app.token, app.corpId);
    const xml = `<xml><ToUserName><![CDATA[${app.corpId}]]></ToUserName>` +
      `<FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1700000000</CreateTime>` +
      `<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[batch_job_result]]></Event>` +
      `<BatchJob><JobId><![CDATA[S0MrnndvRG5fadSlLwiBqiDDbM143UqTmKP3152FZk4]]></JobId>` +
      `<JobType><![CDATA[sync_user]]></JobType><ErrCode>0</ErrCode><ErrMsg><![CDATA[ok]]></ErrMsg>` +
      `</BatchJob></xml>`;
    const sealed = await sealCallback(crypto, xml, { corpId: app.corpId, agentId: "" });
    assert.equal(await status(h.post("/wecom/callback/solo", sealed.query, sealed.body)), 200);
    assert.equal((await queuedJobs(h.kv)).length, 0, "an event, not a job");
  } finally {
    await h.close();
  }
});

Deno.test("POST: a member not on the allowlist gets no job and one notice a day", async () => {
  const app = randomApp();
  const h = await harness([app], {
    access: {
      allowAll: false,
      allowedUsers: ["zhangsan"],
      refusalNoticeSeconds: 86400,
      refusalNoticeText: "not allowed",
    },
  });
  try {
    for (const msgId of ["1", "2"]) {
      const sealed = await sealedText(app, "let me in", msgId, "stranger");
      const response = await h.post("/wecom/callback", sealed.query, sealed.body);
      assert.equal(response.status, 200);
      await response.body?.cancel();
    }
    assert.equal((await queuedJobs(h.kv)).length, 0);
    const outbox = [];
    for await (const entry of h.kv.list({ prefix: keys.outboxPrefix() })) outbox.push(entry.value);
    assert.equal(outbox.length, 1);
    assert.ok(
      logged.some((line) =>
        line.includes(`${app.corpId}:stranger`) && line.includes("ALLOWED_USERS")
      ),
    );
    // An allowed member in the same corp gets a job.
    const sealed = await sealedText(app, "hello", "3", "zhangsan");
    const response = await h.post("/wecom/callback", sealed.query, sealed.body);
    assert.equal(response.status, 200);
    await response.body?.cancel();
    assert.equal((await queuedJobs(h.kv)).length, 1);
  } finally {
    await h.close();
  }
});

Deno.test("POST: events are acknowledged; a menu click becomes a job, enter_agent does not", async () => {
  const app = randomApp();
  const h = await harness([app]);
  try {
    const crypto = await importAppCrypto(app.encodingAesKey, app.token, app.corpId);
    const party = { corpId: app.corpId, agentId: app.agentId, userId: "lisi" };
    for (
      const xml of [
        eventMessage({ ...party, event: "enter_agent" }),
        eventMessage({ ...party, event: "click", eventKey: "#help" }),
        anyMessage({ ...party, msgType: "file", fields: { MediaId: "x", MsgId: "99" } }),
      ]
    ) {
      const sealed = await sealCallback(crypto, xml, party);
      const response = await h.post("/wecom/callback", sealed.query, sealed.body);
      assert.equal(response.status, 200);
      await response.body?.cancel();
    }
    const jobs = await queuedJobs(h.kv);
    assert.deepEqual(jobs.map((job) => job.message.type).sort(), ["event", "unknown"]);
  } finally {
    await h.close();
  }
});

Deno.test("POST: malformed bodies get 400 and create nothing", async () => {
  const app = randomApp();
  const h = await harness([app]);
  try {
    const sealed = await sealedText(app, "x", "1");
    const bodies = [
      "",
      "not xml",
      "<xml><ToUserName>x</ToUserName></xml>",
      `<!DOCTYPE x [<!ENTITY a "b">]><xml><Encrypt>&a;</Encrypt></xml>`,
      "<xml><Encrypt>abc</xml>",
      new Uint8Array([0x3c, 0x78, 0xff, 0xfe]),
    ];
    for (const body of bodies) {
      const response = await h.post("/wecom/callback", sealed.query, body);
      assert.equal(response.status, 400, String(body));
      await response.body?.cancel();
    }
    const noQuery = await h.post("/wecom/callback", "", sealed.body);
    assert.equal(noQuery.status, 400);
    await noQuery.body?.cancel();
    assert.equal((await queuedJobs(h.kv)).length, 0);
  } finally {
    await h.close();
  }
});

Deno.test("POST: forged signature, tampered ciphertext and another corp get 403", async () => {
  const app = randomApp();
  const h = await harness([app]);
  try {
    const sealed = await sealedText(app, "x", "1");
    const forged = sealed.query.replace(/msg_signature=[0-9a-f]{2}/, "msg_signature=zz");
    const r1 = await h.post("/wecom/callback", forged, sealed.body);
    assert.equal(r1.status, 403);
    await r1.body?.cancel();

    const tampered = sealed.body.replace(
      /<Encrypt><!\[CDATA\[(.)/,
      (_m, c) => `<Encrypt><![CDATA[${c === "A" ? "B" : "A"}`,
    );
    const r2 = await h.post("/wecom/callback", sealed.query, tampered);
    assert.equal(r2.status, 403);
    await r2.body?.cancel();

    // Same token and key, but sealed for another corp id: the receive id does not match.
    const otherCorp = await importAppCrypto(app.encodingAesKey, app.token, "wwothercorp");
    const xml = textMessage({
      corpId: app.corpId,
      agentId: app.agentId,
      userId: "u",
      content: "x",
      msgId: "2",
    });
    const sealedOther = await sealCallback(otherCorp, xml, {
      corpId: app.corpId,
      agentId: app.agentId,
    });
    const r3 = await h.post("/wecom/callback", sealedOther.query, sealedOther.body);
    assert.equal(r3.status, 403);
    await r3.body?.cancel();
    assert.equal((await queuedJobs(h.kv)).length, 0);
  } finally {
    await h.close();
  }
});

Deno.test("POST: a misconfigured app never blocks another app on the shared path", async () => {
  const good = randomApp({ name: "good" });
  const broken = {
    ...randomApp({ name: "broken" }),
    corpId: good.corpId,
    agentId: good.agentId + "1",
  };
  // The broken app shares the good app's token, so its signature check passes but decryption fails.
  broken.token = good.token;
  const h = await harness([broken, good]);
  try {
    const sealed = await sealedText(good, "hi", "1");
    const response = await h.post("/wecom/callback", sealed.query, sealed.body);
    assert.equal(response.status, 200);
    await response.body?.cancel();
    const jobs = await queuedJobs(h.kv);
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0].app, "good");
  } finally {
    await h.close();
  }
});

Deno.test("POST: bodies over 64 KiB get 413, declared or streamed", async () => {
  const app = randomApp();
  const h = await harness([app]);
  try {
    const sealed = await sealedText(app, "x", "1");
    const big = "<xml><Encrypt>" + "A".repeat(70 * 1024) + "</Encrypt></xml>";
    const r1 = await h.post("/wecom/callback", sealed.query, big);
    assert.equal(r1.status, 413);
    await r1.body?.cancel();
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 20) controller.enqueue(new TextEncoder().encode("A".repeat(8192)));
        else controller.close();
      },
    });
    const r2 = await h.post("/wecom/callback", sealed.query, stream);
    assert.equal(r2.status, 413);
    await r2.body?.cancel();
  } finally {
    await h.close();
  }
});

Deno.test("other methods get 405; unknown paths 404; /health answers ok", async () => {
  const h = await harness([randomApp()]);
  try {
    const put = await fetch(`${h.base}/wecom/callback`, { method: "PUT", body: "x" });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get("allow"), "GET, POST");
    await put.body?.cancel();
    const missing = await fetch(`${h.base}/nope`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    const health = await fetch(`${h.base}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: "ok" });
  } finally {
    await h.close();
  }
});

Deno.test("replay window: stale timestamps get 403, within the window 200, 0 turns it off", async () => {
  const app = randomApp();
  const crypto = await importAppCrypto(app.encodingAesKey, app.token, app.corpId);
  const party = { corpId: app.corpId, agentId: app.agentId, userId: "lisi" };
  const old = String(Math.floor(Date.now() / 1000) - 1000);
  const near = String(Math.floor(Date.now() / 1000) - 100);
  const h = await harness([app], { replayWindowSeconds: 300 });
  try {
    const stale = await sealCallback(crypto, textMessage({ ...party, content: "a", msgId: "1" }), {
      ...party,
      timestamp: old,
    });
    const r1 = await h.post("/wecom/callback", stale.query, stale.body);
    assert.equal(r1.status, 403);
    assert.ok((await r1.text()).includes("clock"));
    const fresh = await sealCallback(crypto, textMessage({ ...party, content: "b", msgId: "2" }), {
      ...party,
      timestamp: near,
    });
    const r2 = await h.post("/wecom/callback", fresh.query, fresh.body);
    assert.equal(r2.status, 200);
    await r2.body?.cancel();
  } finally {
    await h.close();
  }
  const off = await harness([app], { replayWindowSeconds: 0 });
  try {
    const stale = await sealCallback(crypto, textMessage({ ...party, content: "a", msgId: "1" }), {
      ...party,
      timestamp: old,
    });
    const response = await off.post("/wecom/callback", stale.query, stale.body);
    assert.equal(response.status, 200);
    await response.body?.cancel();
  } finally {
    await off.close();
  }
});

Deno.test("POST: when KV cannot record the message the answer is 503 (WeCom retries), never 200", async () => {
  const app = randomApp();
  const config = await testConfig([app]);
  const kv = await Deno.openKv(":memory:");
  const gateway = await startGateway(config, { role: "edge", kv });
  try {
    kv.close();
    const sealed = await sealedText(app, "x", "1");
    const response = await fetch(
      `http://127.0.0.1:${gateway.address!.port}/wecom/callback?${sealed.query}`,
      { method: "POST", body: sealed.body },
    );
    assert.equal(response.status, 503);
    await response.body?.cancel();
  } finally {
    await gateway.stop();
  }
});

Deno.test("POST: random messages of every size with fresh keys round-trip into the job", async () => {
  const app = randomApp();
  const h = await harness([app]);
  try {
    const contents = [
      "",
      "a",
      "你好，世界",
      "🙂".repeat(500),
      randomAlnum(4000),
      "x".repeat(20000),
    ];
    for (const [i, content] of contents.entries()) {
      const sealed = await sealedText(app, content, String(100 + i));
      const response = await h.post("/wecom/callback", sealed.query, sealed.body);
      assert.equal(response.status, 200);
      await response.body?.cancel();
    }
    const jobs = await queuedJobs(h.kv);
    assert.deepEqual(
      jobs.map((job) => job.message.type === "text" ? job.message.content : null).sort(),
      [...contents].sort(),
    );
  } finally {
    await h.close();
  }
});

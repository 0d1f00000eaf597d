import assert from "node:assert/strict";
import { HERMES_DEFAULTS, hermesBackend } from "../../src/agent/backends/hermes.ts";
import { openaiBackend } from "../../src/agent/backends/openai.ts";
import { BackendFailure } from "../../src/agent/backends/failure.ts";
import { resetHistory } from "../../src/agent/run.ts";
import { agentSession } from "../../src/agent/session_ids.ts";
import type { AgentConfig } from "../../src/config/types.ts";
import { startFakeHermes } from "../fakes/hermes_api.ts";
import { agentConfig, live, textRequest } from "./fixtures.ts";

const KEY = "hermes-key-0123456789";

function hermesConfig(url: string, overrides: Partial<AgentConfig> = {}): AgentConfig {
  return agentConfig({
    kind: "hermes",
    hermes: { ...HERMES_DEFAULTS, baseUrl: url, apiKey: KEY },
    truncationMarker: " [cut]",
    ...overrides,
  });
}

/** A request from `userId` of corp ww1 with its session ids from `kv`. */
async function memberRequest(kv: Deno.Kv, userId: string, text: string, deadlineMs?: number) {
  const conversation = `ww1:${userId}`;
  return textRequest(text, {
    conversation,
    userId,
    session: await agentSession(kv, conversation),
    ...(deadlineMs === undefined ? {} : { deadlineAt: Date.now() + deadlineMs }),
  });
}

Deno.test("hermes: two members who open with the same words get different Hermes sessions", async () => {
  using kv = await Deno.openKv(":memory:");
  const hermes = startFakeHermes({ apiKey: KEY });
  try {
    const config = hermesConfig(hermes.url);
    const zhang = await hermesBackend(await memberRequest(kv, "zhang", "你好"), config, live());
    const li = await hermesBackend(await memberRequest(kv, "li", "你好"), config, live());
    assert.equal(zhang.text, "Hermes: 你好");
    assert.equal(li.text, "Hermes: 你好");
    const [first, second] = hermes.requests;
    assert.ok(first.sessionHeader && second.sessionHeader);
    assert.notEqual(first.sessionHeader, second.sessionHeader);
    assert.notEqual(first.sessionKey, second.sessionKey);
    assert.equal(hermes.sessions.size, 2);
    for (const request of hermes.requests) {
      // Opaque: neither the corp nor the user id reaches Hermes.
      const sent = JSON.stringify(request) + request.sessionHeader + request.sessionKey;
      assert.ok(!/zhang|\bli\b|ww1/.test(sent.replace(/"text":"[^"]*"|你好/g, "")), sent);
      assert.equal(request.authorization, `Bearer ${KEY}`);
      assert.equal(request.body.user, request.sessionKey);
      // Only the new message: Hermes holds the history.
      assert.deepEqual(request.body.messages, [{ role: "user", content: "你好" }]);
    }
  } finally {
    await hermes.close();
  }
});

Deno.test("hermes: without the session header (kind openai) the fake mixes both members, as Hermes does", async () => {
  const hermes = startFakeHermes({ apiKey: KEY });
  try {
    const config = agentConfig({
      kind: "openai",
      openai: {
        baseUrl: hermes.url,
        apiKey: KEY,
        model: "hermes-agent",
        systemPrompt: "",
        historyMaxBytes: 0,
      },
    });
    await openaiBackend(textRequest("你好", { userId: "zhang" }), config, live());
    await openaiBackend(textRequest("你好", { userId: "li" }), config, live());
    assert.equal(hermes.sessions.size, 1, "the positive control: same first message, one session");
    assert.equal([...hermes.sessions.values()][0].length, 4);
  } finally {
    await hermes.close();
  }
});

Deno.test("hermes: a conversation keeps its session until /reset, then gets a new one", async () => {
  using kv = await Deno.openKv(":memory:");
  const hermes = startFakeHermes({ apiKey: KEY });
  try {
    const config = hermesConfig(hermes.url);
    await hermesBackend(await memberRequest(kv, "zhang", "one"), config, live());
    await hermesBackend(await memberRequest(kv, "zhang", "two"), config, live());
    await resetHistory(kv, "ww1:zhang");
    await hermesBackend(await memberRequest(kv, "zhang", "three"), config, live());
    const [one, two, three] = hermes.requests;
    assert.equal(one.sessionHeader, two.sessionHeader);
    assert.notEqual(three.sessionHeader, one.sessionHeader);
    assert.equal(three.sessionKey, one.sessionKey, "the member's memory scope stays");
    assert.deepEqual(hermes.sessions.get(one.sessionId)?.map((m) => m.content), [
      "one",
      "Hermes: one",
      "two",
      "Hermes: two",
    ]);
    assert.deepEqual(hermes.sessions.get(three.sessionId)?.map((m) => m.content), [
      "three",
      "Hermes: three",
    ]);
  } finally {
    await hermes.close();
  }
});

Deno.test("hermes: a failed run (provider down: 200, finish_reason error) is an error, never the answer", async () => {
  using kv = await Deno.openKv(":memory:");
  const hermes = startFakeHermes({ apiKey: KEY, behave: () => ({ failure: "provider_down" }) });
  try {
    await assert.rejects(
      hermesBackend(await memberRequest(kv, "zhang", "hi", 5000), hermesConfig(hermes.url), live()),
      (error: Error) => {
        assert.ok(error instanceof BackendFailure && !error.transient);
        assert.match(error.message, /reported a failed run .*finish_reason error/);
        assert.match(error.message, /not delivered/);
        return true;
      },
    );
    assert.equal(hermes.requests.length, 1, "a failed run is not retried");
  } finally {
    await hermes.close();
  }
});

Deno.test("hermes: 502 agent_incomplete is retried, and fails naming the attempts", async () => {
  using kv = await Deno.openKv(":memory:");
  let calls = 0;
  const hermes = startFakeHermes({
    apiKey: KEY,
    behave: () => (++calls <= 1 ? { failure: "no_text" } : { content: "recovered" }),
  });
  try {
    const config = hermesConfig(hermes.url);
    const reply = await hermesBackend(await memberRequest(kv, "zhang", "hi", 5000), config, live());
    assert.equal(reply.text, "recovered");
    assert.equal(hermes.requests.length, 2);
    hermes.behave = () => ({ failure: "no_text" });
    await assert.rejects(
      hermesBackend(await memberRequest(kv, "zhang", "again", 1500), config, live()),
      /Hermes at 127\.0\.0\.1:\d+ answered HTTP 502: Agent run did not complete \(after \d attempts\)/,
    );
  } finally {
    await hermes.close();
  }
});

Deno.test("hermes: a wrong key fails at once (401) naming the variable to fix", async () => {
  using kv = await Deno.openKv(":memory:");
  const hermes = startFakeHermes({ apiKey: "the-right-key" });
  try {
    const started = performance.now();
    await assert.rejects(
      hermesBackend(await memberRequest(kv, "zhang", "hi", 5000), hermesConfig(hermes.url), live()),
      (error: Error) => {
        assert.match(
          error.message,
          /the key in API_SERVER_KEY is rejected by Hermes at 127\.0\.0\.1:\d+ \(HTTP 401: Invalid API key\)/,
        );
        assert.ok(!error.message.includes(KEY));
        return true;
      },
    );
    assert.ok(performance.now() - started < 400, "no retry of a 401");
    assert.equal(hermes.hits.get("/v1/chat/completions"), 1);
  } finally {
    await hermes.close();
  }
});

Deno.test("hermes: 429 (too many runs at once) is retried until a run slot frees", async () => {
  using kv = await Deno.openKv(":memory:");
  const hermes = startFakeHermes({
    apiKey: KEY,
    maxConcurrentRuns: 1,
    behave: (request) => (request.text === "slow" ? { delayMs: 400 } : {}),
  });
  try {
    const config = hermesConfig(hermes.url);
    const slow = hermesBackend(await memberRequest(kv, "zhang", "slow", 5000), config, live());
    while (!hermes.requests.some((request) => request.text === "slow")) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const quick = await hermesBackend(
      await memberRequest(kv, "li", "quick", 5000),
      config,
      live(),
    );
    assert.equal(quick.text, "Hermes: quick");
    assert.equal((await slow).text, "Hermes: slow");
    const quickTries = hermes.requests.filter((request) => request.text === "quick").length;
    assert.ok(quickTries >= 2, `the 429 was retried (${quickTries} tries)`);
  } finally {
    await hermes.close();
  }
});

Deno.test("hermes: a truncated answer is delivered with the marker", async () => {
  using kv = await Deno.openKv(":memory:");
  const hermes = startFakeHermes({
    apiKey: KEY,
    behave: () => ({ failure: "truncated", content: "Part one of" }),
  });
  try {
    const reply = await hermesBackend(
      await memberRequest(kv, "zhang", "long please", 5000),
      hermesConfig(hermes.url),
      live(),
    );
    assert.equal(reply.text, "Part one of [cut]");
  } finally {
    await hermes.close();
  }
});

Deno.test("hermes: down (connection refused) is retried until the deadline, then fails", async () => {
  using kv = await Deno.openKv(":memory:");
  const hermes = startFakeHermes({ apiKey: KEY });
  await hermes.stop();
  try {
    const started = performance.now();
    await assert.rejects(
      hermesBackend(await memberRequest(kv, "zhang", "hi", 1500), hermesConfig(hermes.url), live()),
      (error: Error) => {
        assert.match(
          error.message,
          new RegExp(
            `could not reach Hermes at 127\\.0\\.0\\.1:${hermes.port}: .*\\(after [2-9] attempts\\)`,
          ),
        );
        return true;
      },
    );
    const took = performance.now() - started;
    // At least one back-off (≥ 400 ms) was waited; no retry started after the 1.5 s deadline.
    assert.ok(took > 400 && took < 3000, `retried within the budget (${Math.round(took)} ms)`);
  } finally {
    await hermes.close();
  }
});

Deno.test("hermes: the signal (/stop, timeout) ends a slow run at once", async () => {
  using kv = await Deno.openKv(":memory:");
  const hermes = startFakeHermes({ apiKey: KEY, behave: () => ({ delayMs: 5000 }) });
  try {
    const controller = new AbortController();
    const started = performance.now();
    const run = hermesBackend(
      await memberRequest(kv, "zhang", "hi", 10_000),
      hermesConfig(hermes.url),
      controller.signal,
    );
    setTimeout(() => controller.abort(new Error("the run was cancelled")), 100);
    await assert.rejects(run, /cancelled/);
    assert.ok(performance.now() - started < 1000);
    assert.equal(hermes.requests.length, 1, "the run was not retried after the abort");
  } finally {
    await hermes.close();
  }
});

Deno.test("hermes: no session ids means no request (members would share a session)", async () => {
  const hermes = startFakeHermes({ apiKey: KEY });
  try {
    await assert.rejects(
      hermesBackend(textRequest("hi"), hermesConfig(hermes.url), live()),
      /no session id/,
    );
    assert.equal(hermes.requests.length, 0);
  } finally {
    await hermes.close();
  }
});

Deno.test("session ids: revealed on request, header-safe and at most 256 characters", async () => {
  using kv = await Deno.openKv(":memory:");
  const odd = `ww1:${"x".repeat(300)}\r\nX-Evil: 1`;
  const revealed = await agentSession(kv, odd, { revealIds: true });
  assert.ok(revealed.sessionId.length <= 256 && !/[\r\n\0]/.test(revealed.sessionId));
  assert.ok(revealed.memberId.startsWith("ww1:xxx"));
  const opaque = await agentSession(kv, odd);
  assert.match(opaque.sessionId, /^wecom-[A-Za-z0-9_-]{43}$/);
  // Stable within an epoch, and the same in another process sharing the store.
  assert.equal((await agentSession(kv, odd)).sessionId, opaque.sessionId);
});

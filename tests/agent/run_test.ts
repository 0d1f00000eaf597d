import assert from "node:assert/strict";
import {
  appendHistory,
  loadHistory,
  resetHistory,
  runAgentForJob,
  trimHistory,
} from "../../src/agent/run.ts";
import { createAgentPool } from "../../src/agent/pool.ts";
import { AgentBackendError } from "../../src/records/agent_error.ts";
import { keys } from "../../src/store/keys.ts";
import { startFakeOpenAi } from "../fakes/openai_api.ts";
import type { AgentConfig, AgentKind } from "../../src/config/types.ts";
import type { HistoryTurn } from "../../src/records/agent.ts";
import type { JobRecord } from "../../src/records/job.ts";
import type { InboundMessage } from "../../src/records/message.ts";

const CONVERSATION = "ww1:zhang";

function config(kind: AgentKind, baseUrl = "", historyMaxBytes = 4000): AgentConfig {
  return {
    kind,
    timeoutMs: 10_000,
    workers: 2,
    openai: {
      baseUrl,
      apiKey: "sk-run-test",
      model: "fake-model",
      systemPrompt: "Be brief.",
      historyMaxBytes,
    },
    command: { argv: [] },
    http: { url: "", headers: {} },
  };
}

let counter = 0;
function job(content: string | InboundMessage, conversation = CONVERSATION): JobRecord {
  counter++;
  const userId = conversation.split(":")[1];
  const message: InboundMessage = typeof content === "string"
    ? {
      type: "text",
      content,
      corpId: "ww1",
      userId,
      createTime: 1,
      agentId: "1000002",
      msgId: String(counter),
    }
    : content;
  return {
    id: `job-${counter}`,
    conversation,
    app: "default",
    corpId: "ww1",
    agentId: "1000002",
    userId,
    message,
    receivedAt: 0,
    state: "running",
    attempts: 1,
    updatedAt: 0,
  };
}

const live = () => new AbortController().signal;

function utf8Bytes(turns: HistoryTurn[]): number {
  return turns.reduce((sum, turn) => sum + new TextEncoder().encode(turn.content).length, 0);
}

Deno.test("run: echo answers with the description of a non-text message and keeps no history", async () => {
  const kv = await Deno.openKv(":memory:");
  const pool = createAgentPool(config("echo"), { size: 1 });
  try {
    const reply = await runAgentForJob(
      { kv, pool, config: config("echo") },
      job({
        type: "image",
        picUrl: "https://p/x.jpg",
        mediaId: "MID",
        corpId: "ww1",
        userId: "zhang",
        createTime: 1,
        agentId: "1000002",
        msgId: "i1",
      }),
      live(),
    );
    assert.equal(reply.text, "[image] media_id=MID url=https://p/x.jpg");
    assert.equal((await kv.get(keys.history(CONVERSATION))).value, null);
  } finally {
    await pool.close();
    kv.close();
  }
});

Deno.test("run: openai sees earlier turns and the exchange is stored, reasoning removed", async () => {
  const kv = await Deno.openKv(":memory:");
  const fake = startFakeOpenAi();
  fake.setReply((request) => ({ think: "hmm", content: `answer to ${request.lastUserText}` }));
  const agent = config("openai", fake.url);
  const pool = createAgentPool(agent, { size: 1 });
  try {
    assert.equal(
      (await runAgentForJob({ kv, pool, config: agent }, job("第一"), live())).text,
      "answer to 第一",
    );
    assert.equal(
      (await runAgentForJob({ kv, pool, config: agent }, job("second"), live())).text,
      "answer to second",
    );
    assert.deepEqual(fake.requests[1].body.messages, [
      { role: "system", content: "Be brief." },
      { role: "user", content: "第一" },
      { role: "assistant", content: "answer to 第一" },
      { role: "user", content: "second" },
    ]);
    assert.deepEqual(await loadHistory(kv, CONVERSATION), [
      { role: "user", content: "第一" },
      { role: "assistant", content: "answer to 第一" },
      { role: "user", content: "second" },
      { role: "assistant", content: "answer to second" },
    ]);
    // Another conversation starts empty.
    await runAgentForJob({ kv, pool, config: agent }, job("hi", "ww1:li"), live());
    assert.deepEqual(fake.requests[2].body.messages.slice(1), [{ role: "user", content: "hi" }]);
  } finally {
    await pool.close();
    await fake.close();
    kv.close();
  }
});

Deno.test("run: history is trimmed from the oldest turn to historyMaxBytes (UTF-8 bytes)", async () => {
  const kv = await Deno.openKv(":memory:");
  const fake = startFakeOpenAi();
  fake.setReply((request) => `回答${request.lastUserText}`); // 6 bytes + the question
  const agent = config("openai", fake.url, 35);
  const pool = createAgentPool(agent, { size: 1 });
  try {
    for (const text of ["q1", "q2", "q3", "q4", "q5"]) {
      await runAgentForJob({ kv, pool, config: agent }, job(text), live());
    }
    const history = await loadHistory(kv, CONVERSATION);
    assert.ok(utf8Bytes(history) <= 35, `stored ${utf8Bytes(history)} bytes`);
    assert.deepEqual(history, [
      { role: "user", content: "q3" },
      { role: "assistant", content: "回答q3" },
      { role: "user", content: "q4" },
      { role: "assistant", content: "回答q4" },
      { role: "user", content: "q5" },
      { role: "assistant", content: "回答q5" },
    ]);
    assert.deepEqual(
      fake.requests[4].body.messages.slice(1, -1).map((m) => m.content),
      ["q2", "回答q2", "q3", "回答q3", "q4", "回答q4"],
      "the model saw the trimmed history",
    );
  } finally {
    await pool.close();
    await fake.close();
    kv.close();
  }
});

Deno.test("run: long CJK answers never push the stored value past the KV size limit", async () => {
  const kv = await Deno.openKv(":memory:");
  const fake = startFakeOpenAi();
  const long = "长".repeat(20_000) + " end"; // 60 KB of UTF-8, 40 KB in V8's two-byte form
  fake.setReply((request) => `${request.lastUserText}: ${long}`);
  const agent = config("openai", fake.url, 10_000_000);
  const pool = createAgentPool(agent, { size: 1 });
  try {
    for (const text of ["a", "b", "c"]) {
      await runAgentForJob({ kv, pool, config: agent }, job(text), live());
    }
    const history = await loadHistory(kv, CONVERSATION);
    assert.deepEqual(history.map((turn) => turn.content.slice(0, 3)), ["c", "c: "]);
  } finally {
    await pool.close();
    await fake.close();
    kv.close();
  }
});

Deno.test("run: a failed run leaves the history as it was; resetHistory clears it", async () => {
  const kv = await Deno.openKv(":memory:");
  const fake = startFakeOpenAi({ reply: "fine" });
  const agent = config("openai", fake.url);
  const pool = createAgentPool(agent, { size: 1 });
  try {
    await runAgentForJob({ kv, pool, config: agent }, job("one"), live());
    fake.setReply({ status: 503, error: "overloaded" });
    await assert.rejects(
      runAgentForJob({ kv, pool, config: agent }, job("two"), live()),
      (error) => error instanceof AgentBackendError && /HTTP 503: overloaded/.test(error.message),
    );
    assert.deepEqual((await loadHistory(kv, CONVERSATION)).map((t) => t.content), ["one", "fine"]);

    await resetHistory(kv, CONVERSATION);
    assert.deepEqual(await loadHistory(kv, CONVERSATION), []);
    fake.setReply("fresh");
    await runAgentForJob({ kv, pool, config: agent }, job("three"), live());
    assert.deepEqual(fake.requests.at(-1)!.body.messages.slice(1), [
      { role: "user", content: "three" },
    ]);
  } finally {
    await pool.close();
    await fake.close();
    kv.close();
  }
});

Deno.test("run: two runs of one conversation finishing together both keep their turns", async () => {
  const kv = await Deno.openKv(":memory:");
  const fake = startFakeOpenAi();
  let arrived = 0;
  let both = () => {};
  const bothArrived = new Promise<void>((resolve) => both = resolve);
  fake.setReply(async (request) => {
    if (++arrived === 2) both();
    await bothArrived;
    return `re ${request.lastUserText}`;
  });
  const agent = config("openai", fake.url);
  const pool = createAgentPool(agent, { size: 2 });
  try {
    await Promise.all([
      runAgentForJob({ kv, pool, config: agent }, job("x"), live()),
      runAgentForJob({ kv, pool, config: agent }, job("y"), live()),
    ]);
    const contents = (await loadHistory(kv, CONVERSATION)).map((turn) => turn.content).sort();
    assert.deepEqual(contents, ["re x", "re y", "x", "y"]);
  } finally {
    await pool.close();
    await fake.close();
    kv.close();
  }
});

Deno.test("run: historyMaxBytes 0 turns history off", async () => {
  const kv = await Deno.openKv(":memory:");
  const fake = startFakeOpenAi({ reply: "ok" });
  const agent = config("openai", fake.url, 0);
  const pool = createAgentPool(agent, { size: 1 });
  try {
    await runAgentForJob({ kv, pool, config: agent }, job("one"), live());
    await runAgentForJob({ kv, pool, config: agent }, job("two"), live());
    assert.equal(fake.requests[1].body.messages.length, 2, "system + user only");
    assert.equal((await kv.get(keys.history(CONVERSATION))).value, null);
  } finally {
    await pool.close();
    await fake.close();
    kv.close();
  }
});

Deno.test("run: appendHistory retries when the history changed between read and write", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const key = keys.history(CONVERSATION);
    await kv.set(key, [{ role: "user", content: "old" }]);
    // Change the value once right after appendHistory reads it.
    const realGet = kv.get.bind(kv);
    let interfered = false;
    kv.get = (async (k: Deno.KvKey) => {
      const entry = await realGet(k);
      if (!interfered) {
        interfered = true;
        await kv.set(key, [{ role: "user", content: "other" }, {
          role: "assistant",
          content: "writer",
        }]);
      }
      return entry;
    }) as typeof kv.get;
    await appendHistory(kv, CONVERSATION, [{ role: "user", content: "mine" }], 1000);
    assert.deepEqual((await realGet<HistoryTurn[]>(key)).value?.map((t) => t.content), [
      "other",
      "writer",
      "mine",
    ]);
  } finally {
    kv.close();
  }
});

Deno.test("trimHistory starts with a user turn and drops a turn too big on its own", () => {
  const turns: HistoryTurn[] = [
    { role: "user", content: "aaaa" },
    { role: "assistant", content: "bbbbbbbb" },
    { role: "user", content: "cc" },
    { role: "assistant", content: "dd" },
  ];
  assert.deepEqual(trimHistory(turns, 12).map((t) => t.content), ["cc", "dd"]);
  assert.deepEqual(trimHistory(turns, 100), turns);
  assert.deepEqual(trimHistory([{ role: "user", content: "x".repeat(50) }], 10), []);
});

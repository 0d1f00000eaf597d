import assert from "node:assert/strict";
import { answerCommand, formatAge, HELP_TEXT, parseCommand } from "../../src/jobs/commands.ts";
import { claimNext, getJob } from "../../src/records/job_store/mod.ts";
import type { InboundMessage } from "../../src/records/message.ts";
import { send, textJob } from "./job_fixtures.ts";

const base = { corpId: "ww1", userId: "alice", createTime: 0, agentId: "1000002", msgId: "1" };

function text(content: string): InboundMessage {
  return { ...base, type: "text", content };
}

Deno.test("parseCommand recognises whole-message commands only", () => {
  assert.deepEqual(parseCommand(text("/reset")), "reset");
  assert.deepEqual(parseCommand(text("/new")), "reset");
  assert.deepEqual(parseCommand(text("  /stop\n")), "stop");
  assert.deepEqual(parseCommand(text("/Status")), "status");
  assert.deepEqual(parseCommand(text("/help")), "help");
  assert.deepEqual(parseCommand(text("/stop now")), null);
  assert.deepEqual(parseCommand(text("please /help")), null);
  assert.deepEqual(parseCommand(text("/unknown")), null);
  assert.deepEqual(parseCommand(text(" ".repeat(30) + "/STOP" + "\n".repeat(30))), "stop");
  assert.deepEqual(parseCommand(text("/stop" + " ".repeat(5000))), null);
  assert.deepEqual(parseCommand(text("/stop\n" + "日志".repeat(2000))), null);
  assert.deepEqual(parseCommand({ ...base, type: "image", picUrl: "u", mediaId: "m" }), null);
  assert.deepEqual(
    parseCommand({ ...base, type: "event", event: "enter_agent", eventKey: "", fields: {} }),
    null,
  );
});

Deno.test("formatAge speaks in seconds, minutes and hours", () => {
  assert.deepEqual(formatAge(0, 40_000), "40 s");
  assert.deepEqual(formatAge(0, 185_000), "3 min");
  assert.deepEqual(formatAge(0, 2 * 3600_000), "2 h");
  assert.deepEqual(formatAge(0, 2 * 3600_000 + 5 * 60_000), "2 h 5 min");
  assert.deepEqual(formatAge(1000, 0), "0 s", "clock skew is not negative");
});

Deno.test("/status reports nothing when the conversation is idle", async () => {
  using kv = await Deno.openKv(":memory:");
  const job = textJob("ww1:alice", "/status");
  const reply = await answerCommand(
    { kv, now: Date.now(), resetHistory: () => Promise.resolve() },
    job,
    "status",
  );
  assert.deepEqual(reply, "Nothing is running or waiting. Send a message to start.");
});

Deno.test("/status gives the running job's age and the waiting count", async () => {
  using kv = await Deno.openKv(":memory:");
  const t0 = Date.UTC(2030, 0, 1);
  await send(kv, "ww1:alice", "first", t0);
  await claimNext(kv, "r1", t0 + 60_000, 600_000);
  await send(kv, "ww1:alice", "second", t0 + 120_000);
  await send(kv, "ww1:alice", "third", t0 + 150_000);
  await send(kv, "ww1:bob", "not alice", t0);
  const reply = await answerCommand(
    { kv, now: t0 + 240_000, resetHistory: () => Promise.resolve() },
    textJob("ww1:alice", "/status"),
    "status",
  );
  assert.deepEqual(
    reply,
    "Running: your message from 4 min ago, started 3 min ago.\n" +
      "Waiting: 2 messages, the oldest received 2 min ago.",
  );
});

Deno.test("/stop with nothing to stop says so", async () => {
  using kv = await Deno.openKv(":memory:");
  const reply = await answerCommand(
    { kv, now: Date.now(), resetHistory: () => Promise.resolve() },
    textJob("ww1:alice", "/stop"),
    "stop",
  );
  assert.deepEqual(reply, "Nothing to stop: no request of yours is running or waiting.");
});

Deno.test("/stop drops waiting messages and aborts the local run", async () => {
  using kv = await Deno.openKv(":memory:");
  const t0 = Date.now();
  const running = await send(kv, "ww1:alice", "first", t0);
  await claimNext(kv, "r1", t0, 600_000);
  const waiting = await send(kv, "ww1:alice", "second", t0 + 1);
  const aborted: string[] = [];
  const reply = await answerCommand(
    {
      kv,
      now: t0 + 90_000,
      resetHistory: () => Promise.resolve(),
      cancelLocal: (id) => aborted.push(id) > 0,
    },
    textJob("ww1:alice", "/stop"),
    "stop",
  );
  assert.deepEqual(
    reply,
    "Stopped the running request (received 1 min ago). Dropped 1 waiting message.",
  );
  assert.deepEqual(aborted, [running.id]);
  assert.deepEqual((await getJob(kv, waiting.id))?.state, "failed");
});

Deno.test("/reset calls resetHistory for the conversation only", async () => {
  using kv = await Deno.openKv(":memory:");
  const reset: string[] = [];
  const reply = await answerCommand(
    {
      kv,
      now: Date.now(),
      resetHistory: (_kv, conversation) => {
        reset.push(conversation);
        return Promise.resolve();
      },
    },
    textJob("ww1:alice", "/new"),
    "reset",
  );
  assert.deepEqual(reply, "Conversation reset.");
  assert.deepEqual(reset, ["ww1:alice"]);
});

Deno.test("/help lists the commands and says files cannot be sent", async () => {
  using kv = await Deno.openKv(":memory:");
  const reply = await answerCommand(
    { kv, now: Date.now(), resetHistory: () => Promise.resolve() },
    textJob("ww1:alice", "/help"),
    "help",
  );
  assert.deepEqual(reply, HELP_TEXT);
  for (const command of ["/reset", "/new", "/stop", "/status", "/help"]) {
    assert.ok(reply.includes(command), command);
  }
  assert.ok(reply.includes("WeCom does not deliver them"));
  assert.ok(new TextEncoder().encode(reply).length <= 2048, "fits one WeCom message");
});

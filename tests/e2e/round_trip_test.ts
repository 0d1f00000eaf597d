import assert from "node:assert/strict";
import { setLogSink } from "../../src/log.ts";
import { startWorld } from "../fakes/world.ts";
import { waitFor } from "../lib/wait.ts";

setLogSink({ format: "json", level: "error", write: () => {} });

Deno.test("a text message comes back from the echo agent through message/send", async () => {
  const w = await startWorld();
  try {
    assert.equal(await w.text("lisi", "你好, WeCom! 🙂", "1"), 200);
    await waitFor(() => w.texts("lisi").length === 1, "the reply");
    assert.deepEqual(w.texts("lisi"), ["你好, WeCom! 🙂"]);
  } finally {
    await w.close();
  }
});

Deno.test("replies arrive in order, once each, even when WeCom retries callbacks", async () => {
  const w = await startWorld();
  try {
    for (let i = 1; i <= 5; i++) {
      assert.equal(await w.text("zhangsan", `message ${i}`, String(i)), 200);
      if (i === 3) {
        assert.equal(await w.text("zhangsan", "message 3", "3"), 200); // WeCom's retry
        assert.equal(await w.text("zhangsan", "message 3", "3"), 200);
      }
    }
    await waitFor(() => w.texts("zhangsan").length >= 5, "five replies");
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(w.texts("zhangsan"), [1, 2, 3, 4, 5].map((i) => `message ${i}`));
  } finally {
    await w.close();
  }
});

Deno.test("a long reply is split into parts of at most 2048 bytes that add up to the whole", async () => {
  const w = await startWorld();
  try {
    const paragraph = "这是一个很长的段落，用来测试分段。".repeat(30);
    const long = Array.from({ length: 6 }, (_, i) => `${i}: ${paragraph}`).join("\n\n");
    assert.ok(new TextEncoder().encode(long).length > 6000);
    assert.equal(await w.text("wangwu", long, "1"), 200);
    await waitFor(() => w.texts("wangwu").join("\n\n").length >= long.length, "all parts");
    const parts = w.texts("wangwu");
    assert.ok(parts.length >= 3);
    for (const part of parts) assert.ok(new TextEncoder().encode(part).length <= 2048);
    assert.equal(parts.join("\n\n"), long);
  } finally {
    await w.close();
  }
});

Deno.test("WeCom answering -1, 42001 and 503 for a while: every reply is still delivered once", async () => {
  const w = await startWorld();
  try {
    w.api.inject("send", [{ errcode: -1 }, { errcode: 42001 }, { httpStatus: 503 }, {
      errcode: 45009,
    }]);
    for (let i = 1; i <= 3; i++) assert.equal(await w.text("zhaoliu", `m${i}`, String(i)), 200);
    await waitFor(() => w.texts("zhaoliu").length >= 3, "three replies", 15000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(w.texts("zhaoliu"), ["m1", "m2", "m3"]);
    assert.equal(w.api.gettokenCalls(), 2); // the first token, and one refetch after 42001
  } finally {
    await w.close();
  }
});

Deno.test("many users at once: each gets exactly their reply, with one gettoken", async () => {
  const w = await startWorld();
  try {
    const users = Array.from({ length: 40 }, (_, i) => `user${i}`);
    const statuses = await Promise.all(
      users.map((user, i) => w.text(user, `hi ${user}`, String(i))),
    );
    assert.ok(statuses.every((status) => status === 200));
    await waitFor(() => users.every((user) => w.texts(user).length === 1), "40 replies", 15000);
    for (const user of users) assert.deepEqual(w.texts(user), [`hi ${user}`]);
    assert.equal(w.api.gettokenCalls(), 1);
  } finally {
    await w.close();
  }
});

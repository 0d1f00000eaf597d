import { deepEqual, equal, ok } from "node:assert/strict";
import type { AppConfig } from "../../src/config/types.ts";
import { importAppCrypto } from "../../src/crypto/mod.ts";
import { type Gateway, startGateway } from "../../src/gateway.ts";
import { setLogSink } from "../../src/log.ts";
import { sealCallback, textMessage } from "../../src/simulator/seal.ts";
import { type FakeWeComApi, startFakeWeComApi } from "../../src/simulator/wecom_api.ts";
import { randomApp, testConfig } from "../fakes/config.ts";

setLogSink({ format: "json", level: "error", write: () => {} });

interface World {
  app: AppConfig;
  api: FakeWeComApi;
  gateway: Gateway;
  send(userId: string, content: string, msgId: string): Promise<number>;
  replies(userId: string): string[];
  waitFor(check: () => boolean, what: string, ms?: number): Promise<void>;
  close(): Promise<void>;
}

async function world(): Promise<World> {
  const seed = randomApp({ name: "main" });
  const api = startFakeWeComApi({
    apps: [{ corpId: seed.corpId, corpSecret: seed.corpSecret, agentId: seed.agentId }],
  });
  const app = { ...seed, apiBase: api.url };
  const config = await testConfig([app]);
  config.jobs = { ...config.jobs, pollMs: 50, workingNoticeMs: 0 };
  const gateway = await startGateway(config, { deliveryPollMs: 50, backoffBaseMs: 20 });
  const crypto = await importAppCrypto(app.encodingAesKey, app.token, app.corpId);
  const base = `http://127.0.0.1:${gateway.address!.port}/wecom/callback`;
  return {
    app,
    api,
    gateway,
    async send(userId, content, msgId) {
      const xml = textMessage({ corpId: app.corpId, agentId: app.agentId, userId, content, msgId });
      const sealed = await sealCallback(crypto, xml, { corpId: app.corpId, agentId: app.agentId });
      const response = await fetch(`${base}?${sealed.query}`, {
        method: "POST",
        body: sealed.body,
      });
      await response.body?.cancel();
      return response.status;
    },
    replies(userId) {
      return api.delivered(userId).map((m) => String(m.payload.content ?? ""));
    },
    async waitFor(check, what, ms = 8000) {
      const deadline = Date.now() + ms;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async close() {
      await gateway.stop({ graceMs: 1000 });
      await api.close();
    },
  };
}

Deno.test("a text message comes back from the echo agent through message/send", async () => {
  const w = await world();
  try {
    equal(await w.send("lisi", "你好, WeCom! 🙂", "1"), 200);
    await w.waitFor(() => w.replies("lisi").length === 1, "the reply");
    deepEqual(w.replies("lisi"), ["你好, WeCom! 🙂"]);
  } finally {
    await w.close();
  }
});

Deno.test("replies arrive in order, once each, even when WeCom retries callbacks", async () => {
  const w = await world();
  try {
    for (let i = 1; i <= 5; i++) {
      equal(await w.send("zhangsan", `message ${i}`, String(i)), 200);
      if (i === 3) {
        equal(await w.send("zhangsan", "message 3", "3"), 200); // WeCom's retry
        equal(await w.send("zhangsan", "message 3", "3"), 200);
      }
    }
    await w.waitFor(() => w.replies("zhangsan").length >= 5, "five replies");
    await new Promise((resolve) => setTimeout(resolve, 200));
    deepEqual(w.replies("zhangsan"), [1, 2, 3, 4, 5].map((i) => `message ${i}`));
  } finally {
    await w.close();
  }
});

Deno.test("a long reply is split into parts of at most 2048 bytes that add up to the whole", async () => {
  const w = await world();
  try {
    const paragraph = "这是一个很长的段落，用来测试分段。".repeat(30);
    const long = Array.from({ length: 6 }, (_, i) => `${i}: ${paragraph}`).join("\n\n");
    ok(new TextEncoder().encode(long).length > 6000);
    equal(await w.send("wangwu", long, "1"), 200);
    await w.waitFor(() => w.replies("wangwu").join("\n\n").length >= long.length, "all parts");
    const parts = w.replies("wangwu");
    ok(parts.length >= 3);
    for (const part of parts) ok(new TextEncoder().encode(part).length <= 2048);
    equal(parts.join("\n\n"), long);
  } finally {
    await w.close();
  }
});

Deno.test("WeCom answering -1, 42001 and 503 for a while: every reply is still delivered once", async () => {
  const w = await world();
  try {
    w.api.inject("send", [{ errcode: -1 }, { errcode: 42001 }, { httpStatus: 503 }, {
      errcode: 45009,
    }]);
    for (let i = 1; i <= 3; i++) equal(await w.send("zhaoliu", `m${i}`, String(i)), 200);
    await w.waitFor(() => w.replies("zhaoliu").length >= 3, "three replies", 15000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    deepEqual(w.replies("zhaoliu"), ["m1", "m2", "m3"]);
    equal(w.api.gettokenCalls(), 2); // the first token, and one refetch after 42001
  } finally {
    await w.close();
  }
});

Deno.test("many users at once: each gets exactly their reply, with one gettoken", async () => {
  const w = await world();
  try {
    const users = Array.from({ length: 40 }, (_, i) => `user${i}`);
    const statuses = await Promise.all(
      users.map((user, i) => w.send(user, `hi ${user}`, String(i))),
    );
    ok(statuses.every((status) => status === 200));
    await w.waitFor(() => users.every((user) => w.replies(user).length === 1), "40 replies", 15000);
    for (const user of users) deepEqual(w.replies(user), [`hi ${user}`]);
    equal(w.api.gettokenCalls(), 1);
  } finally {
    await w.close();
  }
});

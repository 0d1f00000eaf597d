import assert from "node:assert/strict";
import { visibleText } from "../../src/delivery/duplicate_check.ts";
import { ConfigError } from "../../src/config/load.ts";
import { DEMO_APP_NAME, DEMO_USER, startDemo } from "../../src/simulator/demo.ts";
import {
  CallbackRejectedError,
  createSimulatedUser,
  ReplyTimeoutError,
  type SimulatedUser,
  type SimulatedUserOptions,
} from "../../src/simulator/user.ts";
import { setLogSink } from "../../src/log.ts";
import { longDemoMessage } from "../../src/cli/demo_script.ts";
import { randomAlnum } from "../fakes/config.ts";
import { waitFor } from "../lib/wait.ts";

const encoder = new TextEncoder();

/** Awaits `fn`, which must reject with an instance of `type`; returns that error. */
async function rejection<T extends Error>(
  fn: () => Promise<unknown>,
  type: new (...args: never[]) => T,
): Promise<T> {
  try {
    await fn();
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, got ${error}`);
    return error;
  }
  throw new Error(`expected ${type.name}, but it resolved`);
}

/**
 * Keeps the gateway's info lines out of the test output; warnings still show,
 * except those matching `expected`, which are collected instead.
 */
function quiet(expected?: RegExp): { restore: () => void; expectedLines: string[] } {
  const expectedLines: string[] = [];
  const previous = setLogSink({ format: "human", level: "warn", write: () => {} });
  setLogSink({
    ...previous,
    level: "warn",
    write: (line, level) => {
      if (expected?.test(line)) expectedLines.push(line);
      else previous.write(line, level);
    },
  });
  return { restore: () => setLogSink(previous), expectedLines };
}

async function withDemo(
  fn: (demo: Awaited<ReturnType<typeof startDemo>>) => Promise<void>,
  options: Parameters<typeof startDemo>[0] = {},
  expectedWarning?: RegExp,
): Promise<void> {
  const { restore, expectedLines } = quiet(expectedWarning);
  const demo = await startDemo(options);
  try {
    await fn(demo);
  } finally {
    await demo.close();
    restore();
  }
  if (expectedWarning) {
    assert.ok(expectedLines.length > 0, `no warning matched ${expectedWarning}`);
  }
}

/** Another member writing to `demo`'s gateway and watching its simulated WeCom, with `options`. */
function memberOf(
  demo: Awaited<ReturnType<typeof startDemo>>,
  options: Partial<SimulatedUserOptions> = {},
): Promise<SimulatedUser> {
  return createSimulatedUser({
    callbackUrl: demo.callbackUrl,
    app: demo.app,
    api: demo.api,
    ...options,
  });
}

Deno.test("the demo runs the gateway on loopback against the simulated WeCom, KV in memory, echo agent", async () => {
  await withDemo(async (demo) => {
    assert.deepStrictEqual(demo.config.host, "127.0.0.1");
    assert.deepStrictEqual(demo.config.kvPath, ":memory:");
    assert.deepStrictEqual(demo.config.agent.kind, "echo");
    assert.deepStrictEqual(demo.config.access.allowAll, true);
    assert.deepStrictEqual(demo.app.name, DEMO_APP_NAME);
    assert.deepStrictEqual(demo.app.apiBase, demo.api.url);
    assert.match(demo.callbackUrl, /^http:\/\/127\.0\.0\.1:\d+\/wecom\/callback$/);
    const health = await fetch(demo.healthUrl);
    assert.deepStrictEqual(await health.json(), { status: "ok" });
  });
});

Deno.test("every demo gets fresh random keys", async () => {
  const { restore } = quiet();
  const [a, b] = await Promise.all([startDemo(), startDemo()]);
  try {
    assert.ok(a.app.token !== b.app.token && a.app.encodingAesKey !== b.app.encodingAesKey);
    assert.ok(a.app.corpSecret !== b.app.corpSecret && a.app.corpId !== b.app.corpId);
    assert.match(a.app.encodingAesKey, /^[A-Za-z0-9]{43}$/);
    assert.match(a.app.token, /^[A-Za-z0-9]{32}$/);
  } finally {
    await Promise.all([a.close(), b.close()]);
    restore();
  }
});

Deno.test("a text message comes back unchanged from the echo agent, through message/send", async () => {
  await withDemo(async (demo) => {
    const text = "你好, WeCom! 👋🏽 spaces  kept";
    const exchange = await demo.user.send(text);
    assert.deepStrictEqual(exchange.posts.map((post) => post.status), [200]);
    assert.deepStrictEqual(exchange.replies.map((reply) => reply.content), [text]);
    assert.deepStrictEqual(exchange.replies[0].msgtype, "text");
    const [delivered] = demo.api.delivered(DEMO_USER);
    assert.deepStrictEqual(delivered.touser, DEMO_USER);
    assert.deepStrictEqual(delivered.agentId, demo.app.agentId);
    assert.deepStrictEqual(delivered.corpId, demo.app.corpId);
  });
});

Deno.test("a MsgId WeCom delivers 3 times gets exactly one reply; a new MsgId with the same text gets another", async () => {
  await withDemo(async (demo) => {
    const retried = await demo.user.send("same text", { times: 3 });
    assert.deepStrictEqual(retried.posts.map((post) => post.status), [200, 200, 200]);
    assert.deepStrictEqual(retried.replies.map((reply) => reply.content), ["same text"]);

    const resent = await demo.user.send("same text", { msgId: retried.msgId });
    assert.deepStrictEqual(
      resent.replies,
      [],
      "a later retry of the same MsgId must not be answered",
    );

    // The second identical reply differs invisibly, so that WeCom's duplicate check keeps it.
    const fresh = await demo.user.send("same text");
    assert.deepStrictEqual(fresh.replies.map((reply) => visibleText(reply.content)), ["same text"]);
    assert.deepStrictEqual(demo.api.delivered(DEMO_USER).length, 2);
  });
});

Deno.test("a long message arrives in ordered parts of at most 2048 bytes that join to the original", async () => {
  await withDemo(async (demo) => {
    const text = longDemoMessage(5000);
    assert.ok(encoder.encode(text).length >= 5000);
    const exchange = await demo.user.send(text);
    const parts = exchange.replies;
    assert.ok(parts.length >= 3, `expected at least 3 parts, got ${parts.length}`);
    for (const part of parts) {
      assert.ok(part.bytes <= 2048, `a part has ${part.bytes} bytes`);
      assert.deepStrictEqual(part.truncated, false);
      assert.deepStrictEqual(part.bytes, encoder.encode(part.content).length);
    }
    assert.deepStrictEqual(parts.map((part) => part.content).join(""), text);
    const arrival = parts.map((part) => part.afterMs);
    assert.deepStrictEqual(arrival, [...arrival].sort((x, y) => x - y));
  });
});

Deno.test("an image comes back as the echo agent's one-line description", async () => {
  await withDemo(async (demo) => {
    const exchange = await demo.user.sendImage({
      mediaId: "media-42",
      picUrl: "https://wework.qpic.cn/wwpic/42/0",
    });
    assert.deepStrictEqual(exchange.replies.map((reply) => reply.content), [
      "[image] media_id=media-42 url=https://wework.qpic.cn/wwpic/42/0",
    ]);
  });
});

Deno.test("events do not break the conversation: enter_agent is acknowledged, a menu click is answered", async () => {
  await withDemo(async (demo) => {
    const entered = await demo.user.sendEvent("enter_agent");
    assert.deepStrictEqual(entered.posts.map((post) => post.status), [200]);
    assert.deepStrictEqual(entered.replies, []);
    const clicked = await demo.user.sendEvent("click", { eventKey: "menu_help" });
    assert.deepStrictEqual(clicked.replies.map((reply) => reply.content), [
      "[event click] key=menu_help",
    ]);
    const after = await demo.user.send("still here?");
    assert.deepStrictEqual(after.replies.map((reply) => reply.content), ["still here?"]);
  });
});

Deno.test("commands go through the gateway like any text", async () => {
  await withDemo(async (demo) => {
    const help = await demo.user.send("/help");
    assert.deepStrictEqual(help.replies.length, 1);
    assert.match(help.replies[0].content, /\/reset/);
    assert.match(help.replies[0].content, /\/status/);
  });
});

Deno.test("two members' replies do not mix", async () => {
  await withDemo(async (demo) => {
    const other = await demo.userNamed("lisi");
    const [mine, theirs] = await Promise.all([
      demo.user.send("from demo-user"),
      other.send("from lisi"),
    ]);
    assert.deepStrictEqual(mine.replies.map((reply) => reply.content), ["from demo-user"]);
    assert.deepStrictEqual(theirs.replies.map((reply) => reply.content), ["from lisi"]);
    assert.deepStrictEqual(demo.api.delivered("lisi").map((m) => m.payload.content), ["from lisi"]);
  });
});

Deno.test("simulated members created at the same moment never share a MsgId", async () => {
  await withDemo(async (demo) => {
    const users = await Promise.all(["a", "b", "c"].map((id) => demo.userNamed(id)));
    const ids = users.flatMap((user) => [user.nextMsgId(), user.nextMsgId()]);
    assert.deepStrictEqual(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, /^\d+$/);
  });
});

Deno.test("a callback sealed with the wrong token is refused with 403 and no reply", async () => {
  await withDemo(
    async (demo) => {
      const intruder = await memberOf(demo, {
        app: { ...demo.app, token: randomAlnum(32) },
        settled: demo.settled,
      });
      const error = await rejection(() => intruder.send("let me in"), CallbackRejectedError);
      assert.deepStrictEqual(error.status, 403);
      assert.deepStrictEqual(demo.api.delivered().length, 0);
    },
    {},
    /callback refused: The signature does not match/,
  );
});

Deno.test("a send whose replies never settle fails after the timeout with what arrived", async () => {
  await withDemo(async (demo) => {
    const impatient = await memberOf(demo, {
      userId: "wangwu",
      settled: () => Promise.resolve(false),
      timeoutMs: 300,
    });
    const error = await rejection(() => impatient.send("anyone?"), ReplyTimeoutError);
    assert.deepStrictEqual(error.userId, "wangwu");
    assert.match(error.message, /within 300 ms/);
    // Let the gateway finish the reply before closing.
    await waitFor(() => demo.settled("wangwu"), "wangwu's conversation settled");
  });
});

Deno.test("without a settled check, a send ends after a quiet time following the reply", async () => {
  await withDemo(async (demo) => {
    const user = await memberOf(demo, { userId: "zhaoliu", quietMs: 100 });
    const exchange = await user.send("hi");
    assert.deepStrictEqual(exchange.replies.map((reply) => reply.content), ["hi"]);
  });
});

Deno.test("the demo takes host, port, path and KV from a given environment (serve's demo mode)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await withDemo(async (demo) => {
      assert.match(demo.callbackUrl, /\/hook$/);
      assert.deepStrictEqual(demo.config.kvPath, `${dir}/data/demo.sqlite3`);
      const exchange = await demo.user.send("over a file KV");
      assert.deepStrictEqual(exchange.replies.map((reply) => reply.content), ["over a file KV"]);
    }, {
      env: {
        WECOM_CALLBACK_HOST: "127.0.0.1",
        WECOM_CALLBACK_PORT: "0",
        WECOM_CALLBACK_PATH: "/hook",
        WECOM_GATEWAY_KV: "./data/demo.sqlite3",
        // The demo allows everyone whatever the environment says.
        WECOM_CALLBACK_ALLOWED_USERS: "somebody-else",
      },
      cwd: dir,
    });
    assert.ok((await Deno.stat(`${dir}/data/demo.sqlite3`)).isFile);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a wrong setting in the given environment fails with a ConfigError and leaves nothing open", async () => {
  const error = await rejection(
    () => startDemo({ env: { WECOM_CALLBACK_PORT: "eighty" }, cwd: "/nonexistent-demo-dir" }),
    ConfigError,
  );
  assert.match(error.message, /WECOM_CALLBACK_PORT/);
});

Deno.test("closing the demo twice is harmless", async () => {
  const { restore } = quiet();
  try {
    const demo = await startDemo();
    await Promise.all([demo.close(), demo.close()]);
    await demo.close();
  } finally {
    restore();
  }
});

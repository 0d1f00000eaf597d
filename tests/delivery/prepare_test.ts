import assert from "node:assert/strict";
import { createMessagePreparer, passThrough } from "../../src/delivery/prepare.ts";
import type { MediaMessage, OutboxItem } from "../../src/records/outbox_item.ts";
import { keys } from "../../src/store/keys.ts";
import { createWeComClient } from "../../src/wecom/client.ts";
import { fakeAppConfig, startFakeWeComApi } from "../../src/simulator/wecom_api.ts";
import type { OutboundMessage } from "../../src/wecom/types.ts";
import { gif, png } from "../../src/simulator/media_samples.ts";

type Due = OutboxItem & { message: OutboundMessage | MediaMessage };

function item(message: OutboundMessage | MediaMessage, userId = "lisi"): Due {
  return {
    id: "item-1",
    conversation: `ww:${userId}`,
    app: "default",
    userId,
    jobId: "job-1",
    purpose: "reply",
    message,
    state: "pending",
    attempts: 1,
    notBefore: 0,
    createdAt: 0,
  };
}

async function fixture(options: { plainTextUsers?: string[]; detectWeChat?: boolean } = {}) {
  const api = startFakeWeComApi();
  const kv = await Deno.openKv(":memory:");
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "prepare-" }));
  const clock = { t: 1_700_000_000_000 };
  const client = createWeComClient({ kv, log: () => {} });
  const prepare = createMessagePreparer({
    kv,
    client,
    media: { dir: `${dir}/store`, uploadRoots: [dir] },
    now: () => clock.t,
    log: () => {},
    ...options,
  });
  return {
    api,
    kv,
    dir,
    clock,
    prepare,
    app: fakeAppConfig(api.url),
    async [Symbol.asyncDispose]() {
      kv.close();
      await api.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("an uploaded media id is kept on the item and reused by a resend", async () => {
  await using f = await fixture();
  await Deno.writeFile(`${f.dir}/a.png`, png(1000));
  const due = item({ msgtype: "media", path: `${f.dir}/a.png`, filename: "a.png" });
  const first = await f.prepare(f.app, due);
  assert.equal(first.message.msgtype, "image");
  const media = first.persist?.message as MediaMessage;
  assert.equal(media.uploaded?.kind, "image");
  assert.deepEqual(first.message, { msgtype: "image", mediaId: media.uploaded?.mediaId });
  const again = await f.prepare(f.app, { ...due, message: media });
  assert.deepEqual(again, { message: first.message });
  assert.equal(f.api.uploads().length, 1);
  f.clock.t += 2 * 24 * 3_600_000 + 1; // close to WeCom's 3 days: upload anew
  const later = await f.prepare(f.app, { ...due, message: media });
  assert.notDeepEqual(later.message, first.message);
  assert.equal(f.api.uploads().length, 2);
});

Deno.test("WeCom refusing a file as its type: it is uploaded as a file instead", async () => {
  await using f = await fixture();
  await Deno.writeFile(`${f.dir}/a.png`, png(1000));
  f.api.inject("upload", [{ errcode: 40009 }]);
  const result = await f.prepare(
    f.app,
    item({ msgtype: "media", path: `${f.dir}/a.png`, filename: "a.png" }),
  );
  assert.equal(result.message.msgtype, "file");
  assert.deepEqual(f.api.uploads().map((m) => m.type), ["file"]);
  f.api.inject("upload", [{ errcode: 45001 }]);
  await Deno.writeFile(`${f.dir}/b.gif`, gif(1000));
  const refused = await f.prepare(
    f.app,
    item({ msgtype: "media", path: `${f.dir}/b.gif`, filename: "b.gif" }),
  );
  assert.deepEqual(refused.message, {
    msgtype: "text",
    content: '[Could not send the file "b.gif": WeCom refused it.]',
  });
});

Deno.test("errors WeCom may get over are thrown, for delivery to retry", async () => {
  await using f = await fixture();
  await Deno.writeFile(`${f.dir}/a.png`, png(1000));
  f.api.inject("upload", [{ errcode: 45009 }]);
  await assert.rejects(
    f.prepare(f.app, item({ msgtype: "media", path: `${f.dir}/a.png`, filename: "a.png" })),
    (error) => (error as { errcode?: number }).errcode === 45009,
  );
});

Deno.test("markdown becomes text for listed and detected WeChat-plugin members only", async () => {
  await using f = await fixture({ plainTextUsers: ["lisi"] });
  const markdown: OutboundMessage = { msgtype: "markdown", content: "**hi** [a](https://b)" };
  const plain = { msgtype: "text", content: "hi a (https://b)" };
  assert.deepEqual((await f.prepare(f.app, item(markdown, "lisi"))).message, plain);
  assert.deepEqual((await f.prepare(f.app, item(markdown, "wangwu"))).message, markdown);
  const seen = { client: "wechat", at: f.clock.t, expiresAt: f.clock.t + 1000 };
  await f.kv.set(keys.clientKind(f.app.corpId, "wangwu"), seen);
  assert.deepEqual((await f.prepare(f.app, item(markdown, "wangwu"))).message, plain);
  f.clock.t += 1001; // the detection expired
  assert.deepEqual((await f.prepare(f.app, item(markdown, "wangwu"))).message, markdown);
  const text: OutboundMessage = { msgtype: "text", content: "**as is**" };
  assert.deepEqual((await f.prepare(f.app, item(text, "lisi"))).message, text);
});

Deno.test("detection can be switched off", async () => {
  await using f = await fixture({ detectWeChat: false });
  await f.kv.set(keys.clientKind(f.app.corpId, "wangwu"), {
    client: "wechat",
    at: 0,
    expiresAt: Infinity,
  });
  const markdown: OutboundMessage = { msgtype: "markdown", content: "**hi**" };
  assert.deepEqual((await f.prepare(f.app, item(markdown, "wangwu"))).message, markdown);
});

Deno.test("without media support a file is explained, never dropped", async () => {
  const { message } = await passThrough(
    fakeAppConfig("http://127.0.0.1:9"),
    item({ msgtype: "media", path: "/x/report.pdf", filename: "report.pdf" }),
  );
  assert.deepEqual(message, {
    msgtype: "text",
    content: '[Could not send the file "report.pdf": sending files is not set up on this gateway.]',
  });
});

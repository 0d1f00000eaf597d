import assert from "node:assert/strict";
import { describeMessage } from "../../src/records/describe.ts";
import { echoBackend } from "../../src/agent/backends/echo.ts";
import type { InboundMessage } from "../../src/records/message.ts";
import type { AgentConfig } from "../../src/config/types.ts";
import { textRequest } from "../agent/fixtures.ts";

const base = { corpId: "ww1", userId: "zhang", createTime: 1700000000, agentId: "1000002" };

async function echo(message: InboundMessage): Promise<string> {
  const reply = await echoBackend(
    textRequest(describeMessage(message), { message }),
    { kind: "echo" } as AgentConfig,
    new AbortController().signal,
  );
  assert.deepEqual(reply.attachments, []);
  return reply.text;
}

Deno.test("echo returns text unchanged, including CJK, emoji and surrounding spaces", async () => {
  for (
    const content of [
      "hello",
      "你好，世界",
      "👍🏽 family: 👨‍👩‍👧 flag: 🇨🇳",
      "  leading and trailing  \n\nlines\n",
      "<think>not stripped</think>",
      "MEDIA:/etc/passwd",
    ]
  ) {
    assert.equal(await echo({ ...base, msgId: "1", type: "text", content }), content);
  }
});

Deno.test("echo describes an image with its media id and url", async () => {
  const text = await echo({
    ...base,
    msgId: "2",
    type: "image",
    mediaId: "MEDIA_abc",
    picUrl: "https://wework.qpic.cn/x.jpg",
  });
  assert.equal(text, "[image] media_id=MEDIA_abc url=https://wework.qpic.cn/x.jpg");
});

Deno.test("echo describes voice, video, location and link messages", async () => {
  assert.equal(
    await echo({ ...base, msgId: "3", type: "voice", mediaId: "v1", format: "amr" }),
    "[voice] media_id=v1 format=amr",
  );
  assert.equal(
    await echo({ ...base, msgId: "4", type: "video", mediaId: "m1", thumbMediaId: "t1" }),
    "[video] media_id=m1 thumb_media_id=t1",
  );
  assert.equal(
    await echo({
      ...base,
      msgId: "5",
      type: "location",
      latitude: 31.2304,
      longitude: 121.4737,
      scale: 15,
      label: '上海市黄浦区 "外滩"',
    }),
    '[location] 31.2304,121.4737 label="上海市黄浦区 \\"外滩\\"" scale=15',
  );
  assert.equal(
    await echo({
      ...base,
      msgId: "6",
      type: "link",
      title: "Deno 2.9",
      description: "What's new",
      url: "https://deno.com/blog",
      picUrl: "https://deno.com/p.png",
    }),
    '[link] "Deno 2.9" — What\'s new <https://deno.com/blog>',
  );
  assert.equal(
    await echo({
      ...base,
      msgId: "7",
      type: "link",
      title: "No description",
      description: "",
      url: "https://example.com/",
      picUrl: "",
    }),
    '[link] "No description" <https://example.com/>',
  );
});

Deno.test("echo describes events with their key and extra fields", async () => {
  assert.equal(
    await echo({ ...base, type: "event", event: "click", eventKey: "menu_1", fields: {} }),
    "[event click] key=menu_1",
  );
  assert.equal(
    await echo({ ...base, type: "event", event: "enter_agent", eventKey: "", fields: {} }),
    "[event enter_agent]",
  );
  assert.equal(
    await echo({
      ...base,
      type: "event",
      event: "LOCATION",
      eventKey: "",
      fields: { Longitude: "121.4737", Latitude: "31.2304", Precision: "" },
    }),
    '[event LOCATION] Latitude=31.2304 Longitude=121.4737 Precision=""',
  );
});

Deno.test("echo names an unknown message type", async () => {
  assert.equal(
    await echo({ ...base, type: "unknown", msgType: "file", msgId: "9", fields: {} }),
    "[unknown message type file]",
  );
});

/**
 * Regression tests found by the fuzz suite (tests/fuzz/): ids that could
 * never fit in a KV key (2 KiB) are refused as malformed instead of failing
 * the commit (which answered 503, so WeCom retried a message that could never
 * be recorded).
 *
 * @module
 */

import assert from "node:assert/strict";
import { CallbackFormatError, parseMessage } from "../../src/intake/parse.ts";

const text = (user: string, msgId: string, type = "text") =>
  `<xml><ToUserName>ww1</ToUserName><FromUserName><![CDATA[${user}]]></FromUserName>` +
  `<CreateTime>1409659813</CreateTime><MsgType>${type}</MsgType><Content>hi</Content>` +
  `<MsgId>${msgId}</MsgId><AgentID>1000002</AgentID></xml>`;

Deno.test("parseMessage accepts FromUserName and MsgId of 256 characters", () => {
  const message = parseMessage(text("u".repeat(256), "9".repeat(256)));
  assert.equal(message.userId.length, 256);
  assert.equal(message.type === "text" && message.msgId.length, 256);
});

Deno.test("parseMessage refuses a FromUserName or MsgId over 256 characters, naming the field", () => {
  const field = (name: string) => (error: unknown) =>
    error instanceof CallbackFormatError && error.field === name;
  assert.throws(() => parseMessage(text("u".repeat(3000), "1")), field("FromUserName"));
  assert.throws(() => parseMessage(text("用".repeat(257), "1")), field("FromUserName"));
  assert.throws(() => parseMessage(text("lisi", "9".repeat(3000))), field("MsgId"));
  assert.throws(() => parseMessage(text("lisi", "9".repeat(257), "new_kind")), field("MsgId"));
});

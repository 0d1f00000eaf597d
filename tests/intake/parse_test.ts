import assert from "node:assert/strict";
import { CallbackFormatError, parseEnvelope, parseMessage } from "../../src/intake/parse.ts";

const base = (inner: string) =>
  `<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[lisi]]></FromUserName>` +
  `<CreateTime>1409659813</CreateTime>${inner}<AgentID>1000002</AgentID></xml>`;

Deno.test("parseEnvelope reads the three elements, with or without CDATA, AgentID optional", () => {
  assert.deepEqual(
    parseEnvelope(
      "<xml><ToUserName><![CDATA[ww1]]></ToUserName>\n<Encrypt><![CDATA[abc=]]></Encrypt>\n" +
        "<AgentID><![CDATA[1000002]]></AgentID>\n</xml>",
    ),
    { toUserName: "ww1", agentId: "1000002", encrypt: "abc=" },
  );
  assert.deepEqual(parseEnvelope("<xml><Encrypt>abc=</Encrypt></xml>"), {
    toUserName: "",
    agentId: "",
    encrypt: "abc=",
  });
});

Deno.test("parseEnvelope without Encrypt is a CallbackFormatError naming the field", () => {
  assert.throws(
    () => parseEnvelope("<xml><ToUserName>ww1</ToUserName></xml>"),
    (error: unknown) => {
      return error instanceof CallbackFormatError && error.field === "Encrypt";
    },
  );
});

Deno.test("parseMessage: text keeps a 64-bit MsgId as a string, exactly", () => {
  const message = parseMessage(
    base(
      "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hello]]></Content><MsgId>4561255354251345929</MsgId>",
    ),
  );
  assert.deepEqual(message, {
    corpId: "ww1",
    userId: "lisi",
    createTime: 1409659813,
    agentId: "1000002",
    msgId: "4561255354251345929",
    type: "text",
    content: "hello",
  });
});

Deno.test("parseMessage: every user message type", () => {
  const image = parseMessage(
    base(
      "<MsgType>image</MsgType><PicUrl>http://p/x.jpg</PicUrl><MediaId>m1</MediaId><MsgId>1</MsgId>",
    ),
  );
  assert.equal(image.type === "image" && image.mediaId + image.picUrl, "m1http://p/x.jpg");
  const voice = parseMessage(
    base("<MsgType>voice</MsgType><MediaId>m2</MediaId><Format>amr</Format><MsgId>2</MsgId>"),
  );
  assert.equal(voice.type === "voice" && voice.format, "amr");
  const video = parseMessage(
    base(
      "<MsgType>video</MsgType><MediaId>m3</MediaId><ThumbMediaId>t3</ThumbMediaId><MsgId>3</MsgId>",
    ),
  );
  assert.equal(video.type === "video" && video.thumbMediaId, "t3");
  const location = parseMessage(
    base(
      "<MsgType>location</MsgType><Location_X>23.134521</Location_X><Location_Y>113.358803</Location_Y>" +
        "<Scale>20</Scale><Label><![CDATA[广州市]]></Label><MsgId>4</MsgId><AppType>wxwork</AppType>",
    ),
  );
  assert.deepEqual(
    location.type === "location" &&
      [location.latitude, location.longitude, location.scale, location.label],
    [23.134521, 113.358803, 20, "广州市"],
  );
  const link = parseMessage(
    base(
      "<MsgType>link</MsgType><Title>T</Title><Description>D</Description><Url>http://u</Url>" +
        "<PicUrl>http://p</PicUrl><MsgId>5</MsgId>",
    ),
  );
  assert.deepEqual(link.type === "link" && [link.title, link.description, link.url, link.picUrl], [
    "T",
    "D",
    "http://u",
    "http://p",
  ]);
});

Deno.test("parseMessage: events keep Event, EventKey and the other fields (nested flattened)", () => {
  const event = parseMessage(
    base(
      "<MsgType>event</MsgType><Event>batch_job_result</Event>" +
        "<BatchJob><JobId>j1</JobId><JobType>sync_user</JobType></BatchJob>",
    ),
  );
  assert.equal(event.type, "event");
  if (event.type !== "event") return;
  assert.equal(event.event, "batch_job_result");
  assert.equal(event.eventKey, "");
  assert.deepEqual(event.fields, { "BatchJob.JobId": "j1", "BatchJob.JobType": "sync_user" });
  const click = parseMessage(
    base("<MsgType>event</MsgType><Event>click</Event><EventKey>#menu1</EventKey>"),
  );
  assert.equal(click.type === "event" && click.eventKey, "#menu1");
});

Deno.test("parseMessage: an unknown type becomes type unknown, not an error", () => {
  const message = parseMessage(
    base("<MsgType>file</MsgType><MediaId>f1</MediaId><MsgId>9</MsgId>"),
  );
  assert.deepEqual(message.type === "unknown" && [message.msgType, message.msgId, message.fields], [
    "file",
    "9",
    { MediaId: "f1" },
  ]);
});

Deno.test("parseMessage: a missing common field or MsgId is a CallbackFormatError", () => {
  assert.throws(() => parseMessage("<xml><MsgType>text</MsgType></xml>"), CallbackFormatError);
  assert.throws(
    () => parseMessage(base("<MsgType>text</MsgType><Content>x</Content>")),
    (error: unknown) => error instanceof CallbackFormatError && error.field === "MsgId",
  );
  assert.throws(() => parseMessage(base("<MsgType>event</MsgType>")), CallbackFormatError);
});

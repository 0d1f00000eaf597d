// What agents see of media and the platform, and the attachments they can return.
import assert from "node:assert/strict";
import { commandBackend } from "../../src/agent/backends/command.ts";
import { echoBackend } from "../../src/agent/backends/echo.ts";
import { openaiBackend } from "../../src/agent/backends/openai.ts";
import { agentText, describeMessage } from "../../src/records/describe.ts";
import { platformHint } from "../../src/agent/platform_hint.ts";
import { parseStructuredReply, structuredAttachments } from "../../src/agent/reply.ts";
import { buildAgentRequest } from "../../src/agent/run.ts";
import type { InboundAttachment } from "../../src/records/agent.ts";
import type { InboundMessage } from "../../src/records/message.ts";
import { parseCommand } from "../../src/records/command.ts";
import type { JobRecord } from "../../src/records/job.ts";
import { startFakeOpenAi } from "../fakes/openai_api.ts";
import { agentConfig } from "./fixtures.ts";

const base = { corpId: "ww1", userId: "zhang", createTime: 1, agentId: "1000002" };
const voice: InboundMessage = { ...base, msgId: "7", type: "voice", mediaId: "M1", format: "amr" };
const saved: InboundAttachment = {
  kind: "voice",
  path: "/srv/gw/data/media/inbound/ww1/zhang/7.amr",
  filename: "7.amr",
  size: 1606,
  contentType: "audio/amr",
  transcript: "明天 10 点开会",
};

function job(message: InboundMessage): JobRecord {
  return {
    id: "job-1",
    conversation: "ww1:zhang",
    app: "default",
    corpId: "ww1",
    agentId: "1000002",
    userId: "zhang",
    message,
    receivedAt: 0,
    state: "running",
    attempts: 1,
    updatedAt: 0,
  };
}

Deno.test("agents get the saved file's path and transcript; users (echo) only its name", async () => {
  const media = { attachments: [saved], errors: [] };
  assert.equal(
    agentText(voice, media),
    "[voice] media_id=M1 format=amr file=/srv/gw/data/media/inbound/ww1/zhang/7.amr size=1606 " +
      'type=audio/amr transcript="明天 10 点开会"',
  );
  const request = buildAgentRequest(job(voice), [], { media, platformHint: "HINT" });
  assert.deepEqual(request.attachments, [saved]);
  assert.equal(request.platformHint, "HINT");
  const echoed = await echoBackend(request, agentConfig(), new AbortController().signal);
  assert.equal(
    echoed.text,
    '[voice] media_id=M1 format=amr file=7.amr size=1606 type=audio/amr transcript="明天 10 点开会"',
  );
  assert.ok(!echoed.text.includes("/srv"), "no server path for users");
});

Deno.test("agents are told why a file is missing; users are not", () => {
  const image: InboundMessage = { ...base, msgId: "8", type: "image", mediaId: "M2", picUrl: "u" };
  const media = { errors: ["image not downloaded: WeCom no longer has it"] };
  assert.equal(
    agentText(image, media),
    "[image] media_id=M2 url=u (image not downloaded: WeCom no longer has it)",
  );
  assert.equal(describeMessage(image, media), "[image] media_id=M2 url=u");
  const request = buildAgentRequest(job(image), [], { media });
  assert.deepEqual(request.mediaErrors, media.errors);
  assert.equal(request.attachments, undefined);
});

Deno.test("a menu click gives the agent its key as text, and /commands as commands", () => {
  const click = (eventKey: string): InboundMessage => ({
    ...base,
    type: "event",
    event: "click",
    eventKey,
    fields: {},
  });
  assert.equal(buildAgentRequest(job(click("今天的天气怎么样？")), []).text, "今天的天气怎么样？");
  assert.equal(agentText(click("")), "[event click]");
  assert.equal(parseCommand(click("/reset")), "reset");
  assert.equal(parseCommand(click(" /HELP ")), "help");
  assert.equal(parseCommand(click("menu_1")), null);
  assert.equal(parseCommand(click("constructor")), null);
  const view: InboundMessage = {
    ...base,
    type: "event",
    event: "view",
    eventKey: "/stop",
    fields: {},
  };
  assert.equal(parseCommand(view), null, "only clicks carry commands");
});

Deno.test("the platform hint: markdown or plain, media types and limits, allowed folders", () => {
  const plain = platformHint({ markdown: false, uploadRoots: [] });
  assert.match(plain, /plain text; do not use markdown/);
  assert.match(plain, /2048 bytes/);
  assert.match(plain, /MEDIA:\/absolute\/path/);
  assert.match(plain, /JPG\/PNG, up to 10 MB.*AMR, up to 2 MB and 60 s.*MP4, up to 10 MB.*20 MB/s);
  assert.match(plain, /Only the files this user sent you can be sent/);
  assert.match(plain, /does not deliver files/);
  const rich = platformHint({ markdown: true, uploadRoots: ["/srv/out", "/tmp/agent"] });
  assert.match(rich, /\*\*bold\*\*/);
  assert.match(rich, /WeChat plugin see it as plain text/);
  assert.match(rich, /files under \/srv\/out, \/tmp\/agent/);
  assert.ok(new TextEncoder().encode(rich).length < 1500, "brief");
});

Deno.test("openai: the platform hint follows the system prompt", async () => {
  const fake = startFakeOpenAi({ reply: "ok" });
  try {
    const config = agentConfig({
      kind: "openai",
      openai: {
        baseUrl: fake.url,
        apiKey: "",
        model: "m",
        systemPrompt: "Be brief.",
        historyMaxBytes: 0,
      },
    });
    const request = buildAgentRequest(
      job({ ...base, msgId: "1", type: "text", content: "hi" }),
      [],
      {
        platformHint: "WECOM HINT",
      },
    );
    await openaiBackend(request, config, new AbortController().signal);
    assert.deepEqual(fake.requests[0].body.messages[0], {
      role: "system",
      content: "Be brief.\n\nWECOM HINT",
    });
    const noPrompt = { ...config, openai: { ...config.openai, systemPrompt: "" } };
    await openaiBackend(request, noPrompt, new AbortController().signal);
    assert.deepEqual(fake.requests[1].body.messages[0], { role: "system", content: "WECOM HINT" });
  } finally {
    await fake.close();
  }
});

Deno.test("structured replies: reply text plus attachments as paths, objects or base64 data", () => {
  const reply = parseStructuredReply(JSON.stringify({
    reply: "<think>x</think>Here.\nMEDIA:/out/a.png",
    attachments: ["/out/b.pdf", { path: "/out/c.amr", kind: "voice" }, {
      filename: "../d.txt",
      data_base64: btoa("hello world"),
    }],
  }));
  assert.equal(reply?.text, "Here.");
  assert.deepEqual(reply?.attachments, [
    { path: "/out/a.png" },
    { path: "/out/b.pdf" },
    { path: "/out/c.amr", kind: "voice" },
    { path: "d.txt", data: new TextEncoder().encode("hello world") },
  ]);
  assert.deepEqual(parseStructuredReply('{"attachments": ["/x.png"]}')?.text, "");
  // Plain text, or JSON that is not a structured reply, stays text.
  for (
    const text of ["hello", '{"answer": 42}', '{"reply": 1}', "[1,2]", '{"reply": "x", "extra": 1}']
  ) {
    assert.equal(parseStructuredReply(text), null, text);
  }
  assert.throws(() => structuredAttachments([{ kind: "image" }]), /neither a "path" nor/);
  assert.throws(() => structuredAttachments([{ path: "/a", kind: "gif" }]), /use image, voice/);
  assert.throws(() => structuredAttachments("x"), /not a list/);
  assert.throws(() => structuredAttachments([{ data_base64: "!!!" }]), /not base64/);
});

Deno.test("command: attachments in WECOM_ATTACHMENTS; JSON on stdout is structured output", async () => {
  const script = 'printf \'{"reply": "got %s", "attachments": ["/out/x.png"]}\' ' +
    '"$(printf %s "$WECOM_ATTACHMENTS" | wc -c | tr -d " ")"';
  const request = buildAgentRequest(job(voice), [], { media: { attachments: [saved] } });
  const reply = await commandBackend(
    request,
    agentConfig({ kind: "command", command: { argv: ["sh", "-c", script] } }),
    new AbortController().signal,
  );
  const expected = JSON.stringify([{
    kind: "voice",
    path: saved.path,
    filename: "7.amr",
    size: 1606,
    content_type: "audio/amr",
    transcript: saved.transcript,
  }]);
  assert.equal(reply.text, `got ${new TextEncoder().encode(expected).length}`);
  assert.deepEqual(reply.attachments, [{ path: "/out/x.png" }]);
});

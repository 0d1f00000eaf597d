/**
 * End to end, media and events in: every inbound message type and event
 * through the callback, the job (download, transcription) and the agent, back
 * to the simulated WeCom API.
 */

import assert from "node:assert/strict";
import { HELP_TEXT } from "../../src/jobs/commands.ts";
import { type LogLevel, setLogSink } from "../../src/log.ts";
import { amr, jpg, mp4, png } from "../../src/simulator/media_samples.ts";
import { startFakeTranscription } from "../fakes/transcription_api.ts";
import { mediaWorld, pause } from "./media_world.ts";
import { waitFor } from "../lib/wait.ts";
import { outbox } from "../jobs/job_fixtures.ts";

setLogSink({ format: "json", level: "error", write: () => {} });

Deno.test("image: downloaded after the 200 into the store; the echo agent describes it by name", async () => {
  const w = await mediaWorld();
  try {
    const bytes = jpg(3000);
    const mediaId = w.api.addMedia(bytes, {
      filename: "IMG_0001.jpg",
      contentType: "image/jpeg",
      type: "image",
    });
    w.api.inject("media", [{ delayMs: 1200 }]); // a slow media/get must not delay the ack
    const started = performance.now();
    const status = await w.message("lisi", "image", {
      PicUrl: "https://wework.qpic.cn/wwpic/1/0",
      MediaId: mediaId,
      MsgId: "101",
    });
    assert.equal(status, 200);
    assert.ok(performance.now() - started < 1000, "acknowledged before the download finished");
    await waitFor(() => w.texts("lisi").length === 1, "the reply");
    assert.equal(
      w.texts("lisi")[0],
      `[image] media_id=${mediaId} url=https://wework.qpic.cn/wwpic/1/0 file=101.jpg size=3000 type=image/jpeg`,
    );
    const saved = await Deno.readFile(`${w.store}/inbound/${w.app.corpId}/lisi/101.jpg`);
    assert.deepEqual(saved, bytes);
    assert.ok(!w.texts("lisi")[0].includes(w.store), "no server path in the chat");
  } finally {
    await w.close();
  }
});

Deno.test("voice without transcription: the AMR file is saved and described", async () => {
  const w = await mediaWorld();
  try {
    const bytes = amr(2);
    const mediaId = w.api.addMedia(bytes, { contentType: "audio/amr", type: "file" });
    assert.equal(
      await w.message("lisi", "voice", { MediaId: mediaId, Format: "amr", MsgId: "102" }),
      200,
    );
    await waitFor(() => w.texts("lisi").length === 1, "the reply");
    assert.equal(
      w.texts("lisi")[0],
      `[voice] media_id=${mediaId} format=amr file=102.amr size=${bytes.length} type=audio/amr`,
    );
  } finally {
    await w.close();
  }
});

Deno.test("voice with transcription: the transcript reaches the agent; a failing API leaves the audio", async () => {
  const stt = startFakeTranscription({ text: "你好，明天开会吗？" });
  const w = await mediaWorld({
    configure: (config) => {
      config.media.transcription = {
        ...config.media.transcription,
        baseUrl: stt.url,
        apiKey: "sk-stt-test",
        language: "zh",
      };
    },
  });
  try {
    const bytes = amr(1);
    const first = w.api.addMedia(bytes, { contentType: "audio/amr" });
    assert.equal(
      await w.message("lisi", "voice", { MediaId: first, Format: "amr", MsgId: "103" }),
      200,
    );
    await waitFor(() => w.texts("lisi").length === 1, "the first reply");
    assert.equal(
      w.texts("lisi")[0],
      `[voice] media_id=${first} format=amr file=103.amr size=${bytes.length} type=audio/amr ` +
        'transcript="你好，明天开会吗？"',
    );
    assert.equal(stt.requests.length, 1);
    assert.equal(stt.requests[0].model, "whisper-1");
    assert.equal(stt.requests[0].language, "zh");
    assert.equal(stt.requests[0].filename, "103.amr");
    assert.equal(stt.requests[0].authorization, "Bearer sk-stt-test");
    assert.deepEqual(stt.requests[0].bytes, bytes);

    stt.answer({ status: 500, error: "model overloaded" });
    const second = w.api.addMedia(bytes, { contentType: "audio/amr" });
    assert.equal(
      await w.message("lisi", "voice", { MediaId: second, Format: "amr", MsgId: "104" }),
      200,
    );
    await waitFor(() => w.texts("lisi").length === 2, "the second reply");
    assert.equal(
      w.texts("lisi")[1],
      `[voice] media_id=${second} format=amr file=104.amr size=${bytes.length} type=audio/amr`,
    );
  } finally {
    await w.close();
    await stt.close();
  }
});

Deno.test("video, location and link are each answered with their description", async () => {
  const w = await mediaWorld();
  try {
    const bytes = mp4(5000);
    const mediaId = w.api.addMedia(bytes, { contentType: "video/mp4", filename: "clip.mp4" });
    assert.equal(
      await w.message("lisi", "video", { MediaId: mediaId, ThumbMediaId: "thumb1", MsgId: "105" }),
      200,
    );
    await waitFor(() => w.texts("lisi").length === 1, "the video reply");
    assert.equal(
      await w.message("lisi", "location", {
        Location_X: "31.2304",
        Location_Y: "121.4737",
        Scale: "15",
        Label: "上海市黄浦区",
        MsgId: "106",
        AppType: "wxwork",
      }),
      200,
    );
    await waitFor(() => w.texts("lisi").length === 2, "the location reply");
    assert.equal(
      await w.message("lisi", "link", {
        Title: "Deno 2.9",
        Description: "Release notes",
        Url: "https://deno.com/blog",
        PicUrl: "https://deno.com/x.png",
        MsgId: "107",
      }),
      200,
    );
    await waitFor(() => w.texts("lisi").length === 3, "the link reply");
    assert.deepEqual(w.texts("lisi"), [
      `[video] media_id=${mediaId} thumb_media_id=thumb1 file=105.mp4 size=5000 type=video/mp4`,
      '[location] 31.2304,121.4737 label="上海市黄浦区" scale=15',
      '[link] "Deno 2.9" — Release notes <https://deno.com/blog>',
    ]);
  } finally {
    await w.close();
  }
});

Deno.test("a media id WeCom no longer has: the echo agent still answers with the description", async () => {
  const w = await mediaWorld();
  try {
    assert.equal(
      await w.message("lisi", "image", { PicUrl: "https://p/1", MediaId: "gone", MsgId: "108" }),
      200,
    );
    await waitFor(() => w.texts("lisi").length === 1, "the reply");
    assert.equal(w.texts("lisi")[0], "[image] media_id=gone url=https://p/1");
  } finally {
    await w.close();
  }
});

/** A webhook agent on 127.0.0.1:0 recording what it gets and answering `answer`. */
function webhook(answer: () => unknown) {
  const seen: Record<string, unknown>[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push(await req.json());
    return Response.json(answer());
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/agent`,
    seen,
    close: () => server.shutdown(),
  };
}

Deno.test("http agent: gets the file's path and the platform hint; its data attachment is sent back", async () => {
  const chart = png(4000);
  const hook = webhook(() => ({
    reply: "Here is your chart.",
    attachments: [{ filename: "chart.png", data_base64: btoa(String.fromCharCode(...chart)) }],
  }));
  const w = await mediaWorld({
    configure: (config) => {
      config.agent = { ...config.agent, kind: "http", http: { url: hook.url, headers: {} } };
    },
  });
  try {
    const bytes = png(3000);
    const mediaId = w.api.addMedia(bytes, { contentType: "image/png" });
    assert.equal(
      await w.message("lisi", "image", { PicUrl: "https://p/2", MediaId: mediaId, MsgId: "109" }),
      200,
    );
    await waitFor(() => w.delivered("lisi").length === 2, "text and image");
    const payload = hook.seen[0] as {
      text: string;
      attachments: { kind: string; path: string; size: number; content_type: string }[];
      platform_hint: string;
    };
    const path = `${w.store}/inbound/${w.app.corpId}/lisi/109.png`;
    assert.deepEqual(payload.attachments, [{
      kind: "image",
      path,
      filename: "109.png",
      size: 3000,
      content_type: "image/png",
    }]);
    assert.match(
      payload.text,
      new RegExp(`^\\[image\\] media_id=${mediaId} url=https://p/2 file=${path} `),
    );
    assert.match(payload.platform_hint, /MEDIA:\/absolute\/path/);
    const [text, image] = w.delivered("lisi");
    assert.equal(text.payload.content, "Here is your chart.");
    assert.equal(image.msgtype, "image");
    const uploaded = w.api.state.media.get(String(image.payload.media_id));
    assert.deepEqual(uploaded?.bytes, chart);
    assert.equal(uploaded?.filename, "chart.png");
  } finally {
    await w.close();
    await hook.close();
  }
});

Deno.test("http agent: a file over gateway.media.max_bytes is not downloaded and the agent is told why", async () => {
  const hook = webhook(() => ({ reply: "noted" }));
  const w = await mediaWorld({
    configure: (config) => {
      config.agent = { ...config.agent, kind: "http", http: { url: hook.url, headers: {} } };
      config.media.maxBytes = 1000;
    },
  });
  try {
    const mediaId = w.api.addMedia(jpg(3000), { contentType: "image/jpeg" });
    assert.equal(
      await w.message("lisi", "image", { PicUrl: "https://p/3", MediaId: mediaId, MsgId: "110" }),
      200,
    );
    await waitFor(() => w.texts("lisi").length === 1, "the reply");
    const payload = hook.seen[0] as { text: string; attachments?: unknown };
    assert.equal(payload.attachments, undefined);
    assert.match(
      payload.text,
      /\(image not downloaded: the file is 2\.9 KB, over the gateway's 1000 B limit\)/,
    );
    const folder = `${w.store}/inbound`;
    assert.equal(await Deno.stat(folder).then(() => true, () => false), false, "nothing saved");
  } finally {
    await w.close();
    await hook.close();
  }
});

Deno.test("enter_agent: one welcome per member per period, without running the agent", async () => {
  const w = await mediaWorld({
    configure: (config) => {
      config.welcome = { text: "欢迎！发送 /help 查看用法。", periodSeconds: 1, onEnter: true };
    },
  });
  try {
    const t = Math.floor(Date.now() / 1000);
    assert.equal(await w.event("lisi", "enter_agent", { createTime: t }), 200);
    assert.equal(await w.event("lisi", "enter_agent", { createTime: t }), 200); // WeCom's retry
    assert.equal(await w.event("lisi", "enter_agent", { createTime: t + 1 }), 200); // opened again
    await waitFor(() => w.texts("lisi").length === 1, "the welcome");
    // Positive control instead of a bare wait: each 200 came after its commit, so all the
    // three events queued is in the outbox by now; wait until it is all sent.
    const lisi = `${w.app.corpId}:lisi`;
    await waitFor(
      async () => (await outbox(w.gateway.kv, lisi)).every((item) => item.state === "sent"),
      "lisi's outbox sent",
    );
    assert.equal((await outbox(w.gateway.kv, lisi)).length, 1, "one welcome queued");
    assert.deepEqual(w.texts("lisi"), ["欢迎！发送 /help 查看用法。"]);
    await pause(1000); // the period is over
    assert.equal(await w.event("lisi", "enter_agent", { createTime: t + 2 }), 200);
    await waitFor(() => w.texts("lisi").length === 2, "the second welcome");
    assert.equal(w.gateway.runner!.stats().claimed, 0, "no agent job");
  } finally {
    await w.close();
  }
});

Deno.test("subscribe welcomes; with welcome_on_enter off, enter_agent does not", async () => {
  const w = await mediaWorld({
    configure: (config) => {
      config.welcome = { text: "Welcome aboard.", periodSeconds: 3600, onEnter: false };
    },
  });
  try {
    assert.equal(await w.event("wangwu", "enter_agent"), 200);
    assert.equal(await w.event("zhaoliu", "subscribe"), 200);
    await waitFor(() => w.texts("zhaoliu").length === 1, "the welcome");
    // Each 200 came after its commit: wangwu's enter_agent queued nothing, zhaoliu's one item.
    const queued = async (userId: string) =>
      await outbox(w.gateway.kv, `${w.app.corpId}:${userId}`);
    await waitFor(
      async () => (await queued("zhaoliu")).every((item) => item.state === "sent"),
      "zhaoliu's outbox sent",
    );
    assert.equal((await queued("zhaoliu")).length, 1);
    assert.deepEqual(await queued("wangwu"), []);
    assert.deepEqual(w.texts("zhaoliu"), ["Welcome aboard."]);
    assert.deepEqual(w.texts("wangwu"), []);
  } finally {
    await w.close();
  }
});

Deno.test("unsubscribe and other events are acknowledged and logged only", async () => {
  const lines: { level: LogLevel; line: string }[] = [];
  const previous = setLogSink({
    format: "json",
    level: "info",
    write: (line, level) => lines.push({ level, line }),
  });
  const w = await mediaWorld({
    configure: (config) => {
      config.welcome = { text: "Welcome.", periodSeconds: 3600, onEnter: true };
    },
  });
  try {
    assert.equal(await w.event("lisi", "unsubscribe"), 200);
    assert.equal(await w.event("lisi", "LOCATION"), 200);
    assert.equal(await w.event("lisi", "view", { eventKey: "https://example.com" }), 200);
    // Positive control: a later subscribe of another member is welcomed meanwhile.
    assert.equal(await w.event("zhaoliu", "subscribe"), 200);
    await waitFor(() => w.texts("zhaoliu").length === 1, "the control welcome");
    assert.deepEqual(await outbox(w.gateway.kv, `${w.app.corpId}:lisi`), [], "nothing queued");
    assert.deepEqual(w.delivered("lisi"), []);
    assert.equal(w.gateway.runner!.stats().claimed, 0);
    const logged = lines.map((entry) => JSON.parse(entry.line));
    assert.ok(
      logged.some((entry) => /unsubscribe/.test(entry.msg) && entry.event === "unsubscribe"),
    );
    assert.ok(logged.some((entry) => entry.event === "view"));
  } finally {
    await w.close();
    setLogSink(previous);
  }
});

Deno.test("click: the menu key reaches the agent; a command key is answered as the command", async () => {
  const w = await mediaWorld();
  try {
    assert.equal(await w.event("lisi", "click", { eventKey: "menu_weather" }), 200);
    await waitFor(() => w.texts("lisi").length === 1, "the click reply");
    assert.equal(w.texts("lisi")[0], "[event click] key=menu_weather");
    assert.equal(await w.event("lisi", "click", { eventKey: "/help" }), 200);
    await waitFor(() => w.texts("lisi").length === 2, "the help");
    assert.equal(w.texts("lisi")[1], HELP_TEXT);
  } finally {
    await w.close();
  }
});

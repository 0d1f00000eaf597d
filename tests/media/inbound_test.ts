import assert from "node:assert/strict";
import type { MediaConfig } from "../../src/config/types.ts";
import type { InboundMessage } from "../../src/records/message.ts";
import type { JobRecord } from "../../src/records/job.ts";
import { createInboundMedia } from "../../src/media/inbound.ts";
import { createWeComClient } from "../../src/wecom/client.ts";
import { fakeAppConfig, startFakeWeComApi } from "../../src/simulator/wecom_api.ts";
import { amr, jpg } from "../../src/simulator/media_samples.ts";
import { startFakeTranscription } from "../fakes/transcription_api.ts";

function job(message: InboundMessage): JobRecord {
  return {
    id: "job-1",
    conversation: `${message.corpId}:${message.userId}`,
    app: "default",
    corpId: message.corpId,
    agentId: "1000002",
    userId: message.userId,
    message,
    receivedAt: 0,
    state: "running",
    attempts: 1,
    updatedAt: 0,
  };
}

async function fixture(media: Partial<MediaConfig> = {}) {
  const api = startFakeWeComApi();
  const kv = await Deno.openKv(":memory:");
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "inbound-" }));
  const app = fakeAppConfig(api.url);
  const client = createWeComClient({ kv, log: () => {} });
  const config: MediaConfig = {
    dir,
    maxBytes: 1024 * 1024,
    retentionHours: 72,
    uploadRoots: [],
    transcription: { baseUrl: "", model: "whisper-1", apiKey: "", language: "", ffmpeg: "" },
    ...media,
  };
  const logs: string[] = [];
  const fetchMedia = createInboundMedia({
    client,
    apps: [app],
    config,
    retryDelayMs: 10,
    log: (level, message) => logs.push(`${level} ${message}`),
  });
  const base = { corpId: app.corpId, userId: "lisi", createTime: 1, agentId: app.agentId };
  return {
    api,
    dir,
    logs,
    fetchMedia,
    base,
    config,
    async [Symbol.asyncDispose]() {
      kv.close();
      await api.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const live = () => new AbortController().signal;

Deno.test("a job run again finds the saved file and downloads nothing", async () => {
  await using f = await fixture();
  const mediaId = f.api.addMedia(jpg(1500), { contentType: "image/jpeg" });
  const message: InboundMessage = { ...f.base, msgId: "5", type: "image", mediaId, picUrl: "u" };
  const first = await f.fetchMedia(job(message), live());
  const second = await f.fetchMedia(job(message), live());
  assert.deepEqual(second, first);
  assert.equal(first.attachments?.[0].path, `${f.dir}/inbound/${f.base.corpId}/lisi/5.jpg`);
  assert.equal(f.api.received.filter((r) => r.api === "media").length, 1);
});

Deno.test("a passing failure of media/get is retried once; a lasting one is reported", async () => {
  await using f = await fixture();
  const mediaId = f.api.addMedia(jpg(1500));
  f.api.inject("media", [{ errcode: -1 }]);
  const message: InboundMessage = { ...f.base, msgId: "6", type: "image", mediaId, picUrl: "u" };
  assert.equal((await f.fetchMedia(job(message), live())).attachments?.length, 1);
  f.api.inject("media", [{ httpStatus: 503 }, { httpStatus: 503 }]);
  const other = f.api.addMedia(jpg(1500));
  const failed = await f.fetchMedia(
    job({ ...message, msgId: "7", mediaId: other }),
    live(),
  );
  assert.deepEqual(failed, { errors: ["image not downloaded: WeCom media/get answered HTTP 503"] });
  assert.ok(f.logs.some((line) => line.startsWith("warn could not download")));
});

Deno.test("text, location and events need no media; a message without MediaId says so", async () => {
  await using f = await fixture();
  assert.deepEqual(
    await f.fetchMedia(job({ ...f.base, msgId: "1", type: "text", content: "hi" }), live()),
    {},
  );
  assert.deepEqual(
    await f.fetchMedia(
      job({ ...f.base, msgId: "2", type: "video", mediaId: "", thumbMediaId: "" }),
      live(),
    ),
    { errors: ["video not downloaded: it has no MediaId"] },
  );
  assert.equal(f.api.received.length, 0);
});

Deno.test("transcription through ffmpeg: the AMR is converted first; the transcript is kept", async () => {
  const stt = startFakeTranscription({ text: "converted" });
  const script = await Deno.makeTempFile({ prefix: "fake-ffmpeg-", suffix: ".sh" });
  // A stand-in for ffmpeg: checks its arguments, writes a WAV header and the input.
  await Deno.writeTextFile(
    script,
    '#!/bin/sh\ncase "$*" in *"-f wav pipe:1"*) ;; *) echo "bad args: $*" >&2; exit 2;; esac\n' +
      "printf RIFF0000WAVE; cat\n",
  );
  await Deno.chmod(script, 0o755);
  await using f = await fixture({
    transcription: { baseUrl: stt.url, model: "m", apiKey: "", language: "", ffmpeg: script },
  });
  try {
    const bytes = amr(1);
    const mediaId = f.api.addMedia(bytes, { contentType: "audio/amr" });
    const message: InboundMessage = {
      ...f.base,
      msgId: "9",
      type: "voice",
      mediaId,
      format: "amr",
    };
    const media = await f.fetchMedia(job(message), live());
    assert.equal(media.attachments?.[0].transcript, "converted");
    assert.equal(stt.requests[0].filename, "9.wav");
    assert.equal(stt.requests[0].contentType, "audio/wav");
    assert.equal(new TextDecoder().decode(stt.requests[0].bytes.subarray(0, 12)), "RIFF0000WAVE");
    assert.deepEqual(stt.requests[0].bytes.subarray(12), bytes);
    const again = await f.fetchMedia(job(message), live());
    assert.equal(again.attachments?.[0].transcript, "converted");
    assert.equal(stt.requests.length, 1, "kept from the first run");
  } finally {
    await stt.close();
    await Deno.remove(script);
  }
});

Deno.test("a missing ffmpeg is reported to the agent; the audio is still there", async () => {
  const stt = startFakeTranscription();
  await using f = await fixture({
    transcription: {
      baseUrl: stt.url,
      model: "m",
      apiKey: "",
      language: "",
      ffmpeg: "/nonexistent/ffmpeg",
    },
  });
  try {
    const mediaId = f.api.addMedia(amr(1));
    const media = await f.fetchMedia(
      job({ ...f.base, msgId: "10", type: "voice", mediaId, format: "amr" }),
      live(),
    );
    assert.equal(media.attachments?.length, 1);
    assert.equal(media.attachments?.[0].transcript, undefined);
    assert.deepEqual(media.errors, [
      "voice not transcribed: cannot run ffmpeg (not found): check gateway.media.transcription.ffmpeg",
    ]);
    assert.equal(stt.requests.length, 0);
  } finally {
    await stt.close();
  }
});

Deno.test("files older than the retention are pruned when media is next fetched", async () => {
  await using f = await fixture({ retentionHours: 1 });
  const old = `${f.dir}/inbound/x/y/1.jpg`;
  await Deno.mkdir(`${f.dir}/inbound/x/y`, { recursive: true });
  await Deno.writeFile(old, jpg(100));
  const then = new Date(Date.now() - 2 * 3_600_000);
  await Deno.utime(old, then, then);
  const mediaId = f.api.addMedia(jpg(100));
  await f.fetchMedia(job({ ...f.base, msgId: "11", type: "image", mediaId, picUrl: "u" }), live());
  assert.equal(await Deno.stat(old).then(() => true, () => false), false);
});

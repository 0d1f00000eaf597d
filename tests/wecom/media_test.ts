import assert from "node:assert/strict";
import { createWeComClient } from "../../src/wecom/client.ts";
import { WeComApiError } from "../../src/wecom/errors.ts";
import { filenameOf, formatBytes, mediaForm, MediaTooLargeError } from "../../src/wecom/media.ts";
import {
  fakeAppConfig,
  type FakeWeComOptions,
  startFakeWeComApi,
} from "../../src/simulator/wecom_api.ts";
import { amr, blob, gif, jpg, mp4, png } from "../../src/simulator/media_samples.ts";

async function fixture(options: FakeWeComOptions = {}) {
  const api = startFakeWeComApi(options);
  const kv = await Deno.openKv(":memory:");
  const client = createWeComClient({ kv, timeoutMs: 2000, log: () => {} });
  return {
    api,
    client,
    app: fakeAppConfig(api.url),
    async [Symbol.asyncDispose]() {
      kv.close();
      await api.close();
    },
  };
}

Deno.test("uploadMedia posts multipart field media with the name users see; the id sends", async () => {
  await using f = await fixture();
  const bytes = png(3000);
  const result = await f.client.uploadMedia(f.app, "image", bytes, "图表 chart.png", "image/png");
  assert.equal(result.type, "image");
  const stored = f.api.state.media.get(result.mediaId);
  assert.deepEqual(stored?.bytes, bytes);
  assert.equal(stored?.filename, "图表 chart.png");
  assert.equal(stored?.contentType, "image/png");
  const request = f.api.received.find((r) => r.api === "upload");
  assert.equal(request?.query.type, "image");
  assert.deepEqual(request?.body, {
    media: { filename: "图表 chart.png", contentType: "image/png", size: 3000 },
  });
  const sent = await f.client.send(f.app, "lisi", { msgtype: "image", mediaId: result.mediaId });
  assert.ok(sent.msgId);
  assert.equal(f.api.delivered("lisi")[0].payload.media_id, result.mediaId);
});

Deno.test("uploadMedia: WeCom's refusals come back as errors with their errcode", async () => {
  await using f = await fixture();
  const MB = 1024 * 1024;
  const longVoice = new Uint8Array(2 * MB + 1);
  longVoice.set(amr(1));
  const cases: [Parameters<typeof f.client.uploadMedia>[1], Uint8Array, number][] = [
    ["image", gif(), 40004],
    ["voice", mp4(), 40004],
    ["video", png(), 40004],
    ["file", new Uint8Array(5), 44001],
    ["image", png(10 * MB + 1), 40009],
    ["voice", longVoice, 40006],
    ["video", mp4(10 * MB + 1), 40011],
    ["file", blob(20 * MB + 1), 45001],
  ];
  for (const [kind, bytes, errcode] of cases) {
    await assert.rejects(
      f.client.uploadMedia(f.app, kind, bytes, "x", "application/octet-stream"),
      (error) =>
        error instanceof WeComApiError && error.errcode === errcode &&
        error.kind === "permanent",
      `${kind} of ${bytes.length} bytes`,
    );
  }
  await assert.rejects(
    f.client.uploadMedia(f.app, "gif" as never, png(), "x.png", "image/png"),
    /expected image, voice, video or file/,
  );
  assert.equal(f.api.uploads().length, 0);
});

Deno.test("uploadMedia refetches a revoked token once, like every call", async () => {
  await using f = await fixture();
  await f.client.uploadMedia(f.app, "file", blob(10), "a.txt", "text/plain");
  f.api.revokeTokens();
  await f.client.uploadMedia(f.app, "file", blob(10), "b.txt", "text/plain");
  assert.equal(f.api.gettokenCalls(), 2);
  assert.equal(f.api.uploads().length, 2);
});

Deno.test("downloadMedia returns the bytes, the type and the file name WeCom gives", async () => {
  await using f = await fixture();
  const bytes = jpg(5000);
  const id = f.api.addMedia(bytes, { filename: "照片.jpg", contentType: "image/jpeg" });
  const file = await f.client.downloadMedia(f.app, id);
  assert.deepEqual(file.bytes, bytes);
  assert.equal(file.contentType, "image/jpeg");
  assert.equal(file.filename, "照片.jpg");
});

Deno.test("downloadMedia: an unknown id is errcode 40007; an empty one is refused unsent", async () => {
  await using f = await fixture();
  await assert.rejects(
    f.client.downloadMedia(f.app, "no-such-id"),
    (error) => error instanceof WeComApiError && error.errcode === 40007,
  );
  await assert.rejects(f.client.downloadMedia(f.app, ""), /media id is empty/);
});

Deno.test("downloadMedia refuses a file over maxBytes before reading it", async () => {
  await using f = await fixture();
  const id = f.api.addMedia(blob(5000));
  await assert.rejects(
    f.client.downloadMedia(f.app, id, { maxBytes: 4000 }),
    (error) =>
      error instanceof MediaTooLargeError && error.size === 5000 && error.maxBytes === 4000,
  );
  assert.equal((await f.client.downloadMedia(f.app, id, { maxBytes: 5000 })).bytes.length, 5000);
});

Deno.test("downloadMedia of a file too large for one GET (830002) fetches it in Range parts", async () => {
  await using f = await fixture({ mediaGetMaxBytes: 1000 });
  const bytes = Uint8Array.from({ length: 25_000 }, (_, i) => i % 251);
  const id = f.api.addMedia(bytes, { filename: "big.bin" });
  const file = await f.client.downloadMedia(f.app, id);
  assert.deepEqual(file.bytes, bytes);
  assert.equal(file.filename, "big.bin");
  const gets = f.api.received.filter((r) => r.api === "media");
  assert.equal(gets.length, 2, "the refused GET, then one ranged part (20 MB parts)");
  await assert.rejects(
    f.client.downloadMedia(f.app, id, { maxBytes: 20_000 }),
    (error) => error instanceof MediaTooLargeError && error.size === 25_000,
  );
});

Deno.test("downloadMedia: a busy WeCom or a dropped connection is a retryable error", async () => {
  await using f = await fixture();
  const id = f.api.addMedia(blob(100));
  f.api.inject("media", [{ errcode: -1 }, { httpStatus: 503 }]);
  for (let i = 0; i < 2; i++) {
    await assert.rejects(
      f.client.downloadMedia(f.app, id),
      (error) => error instanceof WeComApiError && error.retryable,
    );
  }
  assert.equal((await f.client.downloadMedia(f.app, id)).bytes.length, 100);
  assert.equal(f.client.stats().downloadFailures, 2);
});

Deno.test("media helpers: Content-Disposition names, sizes, the multipart field", () => {
  assert.equal(filenameOf('attachment; filename="a b.jpg"'), "a b.jpg");
  assert.equal(filenameOf("attachment; filename*=UTF-8''%E5%9B%BE.png"), "图.png");
  assert.equal(filenameOf('attachment; filename="../../etc/passwd"'), "passwd");
  assert.equal(filenameOf(""), "");
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(2.5 * 1024 * 1024), "2.5 MB");
  const form = mediaForm(new Uint8Array([1, 2, 3, 4, 5, 6]), "x.amr", "audio/amr");
  const file = form.get("media") as File;
  assert.equal(file.name, "x.amr");
  assert.equal(file.type, "audio/amr");
});

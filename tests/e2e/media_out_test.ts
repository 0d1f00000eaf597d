/**
 * End to end, media and markdown out: a reply's attachments are uploaded with
 * media/upload and sent with message/send as the right type, or explained;
 * markdown goes as text to WeChat-plugin members.
 *
 * The agent is the command backend running `cat`: it answers with the user's
 * own text, so a test names the files (`MEDIA:/path` lines, or structured
 * JSON) exactly as an agent would, and also plays the prompt-injected model
 * that names a file it must not send.
 */

import { visibleText } from "../../src/delivery/duplicate_check.ts";
import assert from "node:assert/strict";
import type { GatewayConfig } from "../../src/config/types.ts";
import { setLogSink } from "../../src/log.ts";
import type { FakeMessage } from "../../src/simulator/wecom_api.ts";
import { amr, blob, gif, jpg, mp4, png } from "../../src/simulator/media_samples.ts";
import { mediaWorld } from "./media_world.ts";
import { waitFor } from "../lib/wait.ts";
import { outbox } from "../jobs/job_fixtures.ts";

setLogSink({ format: "json", level: "error", write: () => {} });

const MB = 1024 * 1024;

function catAgent(config: GatewayConfig, paths: { out: string }): void {
  config.agent = {
    ...config.agent,
    kind: "command",
    command: { argv: ["cat"], cwd: paths.out },
    workers: 2,
  };
}

Deno.test("image, voice, video and file attachments are uploaded as their type, then sent", async () => {
  const w = await mediaWorld({ configure: catAgent });
  try {
    const files: [string, Uint8Array][] = [
      ["chart.png", png(5000)],
      ["note.amr", amr(3)],
      ["clip.mp4", mp4(8000)],
      ["report.pdf", new TextEncoder().encode("%PDF-1.7 minimal report")],
    ];
    for (const [name, bytes] of files) await Deno.writeFile(`${w.out}/${name}`, bytes);
    const reply = ["Here are your files:", ...files.map(([name]) => `MEDIA:${w.out}/${name}`)]
      .join("\n");
    assert.equal(await w.text("lisi", reply, "1"), 200);
    await waitFor(() => w.delivered("lisi").length === 5, "text and four files");
    const [text, ...media] = w.delivered("lisi");
    assert.equal(text.msgtype, "text");
    assert.equal(text.payload.content, "Here are your files:");
    assert.deepEqual(media.map((m) => m.msgtype), ["image", "voice", "video", "file"]);
    media.forEach((message, i) => {
      const uploaded = w.api.state.media.get(String(message.payload.media_id));
      assert.ok(uploaded, `media ${i} was uploaded`);
      assert.equal(uploaded.type, message.msgtype);
      assert.equal(uploaded.filename, files[i][0]);
      assert.deepEqual(uploaded.bytes, files[i][1]);
    });
    assert.equal(w.api.uploads().length, 4);
  } finally {
    await w.close();
  }
});

Deno.test("structured output of the command agent: a JSON reply with attachments", async () => {
  const w = await mediaWorld({ configure: catAgent });
  try {
    await Deno.writeFile(`${w.out}/photo.jpg`, jpg(3000));
    const json = JSON.stringify({
      reply: "Done.",
      attachments: [{ path: `${w.out}/photo.jpg`, kind: "image" }],
    });
    assert.equal(await w.text("lisi", json, "1"), 200);
    await waitFor(() => w.delivered("lisi").length === 2, "text and image");
    assert.deepEqual(w.delivered("lisi").map((m) => m.msgtype), ["text", "image"]);
    assert.equal(w.delivered("lisi")[0].payload.content, "Done.");
  } finally {
    await w.close();
  }
});

Deno.test("over-size: an 11 MB image goes as a file; a 21 MB file is explained, not uploaded", async () => {
  const w = await mediaWorld({ configure: catAgent });
  try {
    await Deno.writeFile(`${w.out}/big.png`, png(11 * MB));
    await Deno.writeFile(`${w.out}/huge.bin`, blob(21 * MB));
    await Deno.writeFile(`${w.out}/long.amr`, amr(61));
    assert.equal(
      await w.text(
        "lisi",
        `MEDIA:${w.out}/big.png\nMEDIA:${w.out}/huge.bin\nMEDIA:${w.out}/long.amr`,
        "1",
      ),
      200,
    );
    await waitFor(() => w.delivered("lisi").length === 3, "three messages", 15000);
    const [big, huge, long] = w.delivered("lisi");
    assert.equal(big.msgtype, "file");
    assert.equal(w.api.state.media.get(String(big.payload.media_id))?.filename, "big.png");
    assert.equal(huge.msgtype, "text");
    assert.equal(
      huge.payload.content,
      '[Could not send the file "huge.bin": it is 21 MB; WeCom sends files of at most 20 MB.]',
    );
    assert.equal(long.msgtype, "file", "voice over 60 s goes as a file");
    assert.deepEqual(w.api.uploads().map((m) => m.filename), ["big.png", "long.amr"]);
  } finally {
    await w.close();
  }
});

Deno.test("unsupported formats go as files: a GIF asked for as an image, an unknown extension", async () => {
  const w = await mediaWorld({ configure: catAgent });
  try {
    await Deno.writeFile(`${w.out}/cat.gif`, gif(3000));
    await Deno.writeFile(`${w.out}/data.xyz`, blob(100));
    await Deno.writeFile(`${w.out}/empty.txt`, new Uint8Array(3));
    const json = JSON.stringify({
      attachments: [
        { path: `${w.out}/cat.gif`, kind: "image" },
        `${w.out}/data.xyz`,
        `${w.out}/empty.txt`,
      ],
    });
    assert.equal(await w.text("lisi", json, "1"), 200);
    await waitFor(() => w.delivered("lisi").length === 3, "three messages");
    const [cat, data, empty] = w.delivered("lisi");
    assert.deepEqual([cat.msgtype, data.msgtype], ["file", "file"]);
    assert.equal(w.api.state.media.get(String(cat.payload.media_id))?.filename, "cat.gif");
    assert.equal(
      empty.payload.content,
      '[Could not send the file "empty.txt": it is empty (3 bytes); WeCom needs more than 5 bytes.]',
    );
  } finally {
    await w.close();
  }
});

Deno.test("a path outside the allowed folders is refused and explained, without the path", async () => {
  const w = await mediaWorld({ configure: catAgent });
  try {
    const secret = `${w.tmp}/secret.env`;
    await Deno.writeTextFile(secret, "CORP_SECRET=do-not-send");
    await Deno.symlink(secret, `${w.out}/innocent.png`);
    const reply = [
      `MEDIA:${secret}`,
      `MEDIA:${w.out}/../secret.env`,
      `MEDIA:${w.out}/innocent.png`,
      `MEDIA:${w.out}/missing.png`,
      "MEDIA:/etc/passwd",
    ].join("\n");
    assert.equal(await w.text("lisi", reply, "1"), 200);
    await waitFor(() => w.delivered("lisi").length === 5, "five explanations");
    // As the member sees them: the second identical explanation differs only invisibly (so
    // that WeCom's duplicate check does not drop it).
    const texts = w.delivered("lisi").map((m: FakeMessage) =>
      visibleText(String(m.payload.content))
    );
    const outside = "it is not in a folder this app may send files from";
    assert.deepEqual(texts, [
      `[Could not send the file "secret.env": ${outside}.]`,
      `[Could not send the file "secret.env": ${outside}.]`,
      `[Could not send the file "innocent.png": ${outside}.]`,
      '[Could not send the file "missing.png": it no longer exists.]',
      `[Could not send the file "passwd": ${outside}.]`,
    ]);
    assert.ok(
      texts.every((text) => !text.includes(w.tmp) && !text.includes("/etc")),
      "no server paths",
    );
    assert.equal(w.api.uploads().length, 0, "nothing uploaded");
  } finally {
    await w.close();
  }
});

Deno.test("a member may be sent back their own file from the store, not another member's", async () => {
  const w = await mediaWorld({ configure: catAgent });
  try {
    const mine = w.api.addMedia(jpg(2500), { contentType: "image/jpeg" });
    assert.equal(await w.message("lisi", "image", { PicUrl: "u", MediaId: mine, MsgId: "7" }), 200);
    await waitFor(() => w.delivered("lisi").length === 1, "the image description");
    const own = `${w.store}/inbound/${w.app.corpId}/lisi/7.jpg`;
    assert.equal(await w.text("lisi", `MEDIA:${own}`, "8"), 200);
    assert.equal(await w.text("wangwu", `MEDIA:${own}`, "9"), 200);
    await waitFor(() => w.delivered("lisi").length === 2, "the image back");
    await waitFor(() => w.delivered("wangwu").length === 1, "the refusal");
    assert.equal(w.delivered("lisi")[1].msgtype, "image");
    assert.equal(
      w.delivered("wangwu")[0].payload.content,
      '[Could not send the file "7.jpg": it is not in a folder this app may send files from.]',
    );
  } finally {
    await w.close();
  }
});

Deno.test("media/upload failing for a while: the attachment is retried and sent once", async () => {
  const w = await mediaWorld({ configure: catAgent });
  try {
    await Deno.writeFile(`${w.out}/a.png`, png(2000));
    w.api.inject("upload", [{ errcode: -1 }, { httpStatus: 502 }]);
    assert.equal(await w.text("lisi", `MEDIA:${w.out}/a.png`, "1"), 200);
    await waitFor(() => w.delivered("lisi").length === 1, "the image", 15000);
    // Positive control instead of a bare wait: the item is sent, so nothing resends it.
    const lisi = `${w.app.corpId}:lisi`;
    await waitFor(
      async () => (await outbox(w.gateway.kv, lisi)).every((item) => item.state === "sent"),
      "lisi's outbox sent",
    );
    assert.equal(w.delivered("lisi").length, 1);
    assert.equal(w.delivered("lisi")[0].msgtype, "image");
    assert.equal(w.api.uploads().length, 1);
  } finally {
    await w.close();
  }
});

Deno.test("markdown on: listed and detected WeChat-plugin members get the plain-text rendering", async () => {
  const w = await mediaWorld({
    configure: (config) => {
      config.delivery = { ...config.delivery, markdown: true, plainTextUsers: ["lisi"] };
    },
  });
  try {
    const markdown = "## 周报\n**完成** 3 项，见 [看板](https://board.example)";
    const plain = "周报\n完成 3 项，见 看板 (https://board.example)";
    // wangwu writes from WeChat: a location without AppType; zhaoliu from the WeCom app.
    const location = { Location_X: "1", Location_Y: "2", Scale: "15", Label: "x" };
    assert.equal(await w.message("wangwu", "location", { ...location, MsgId: "1" }), 200);
    assert.equal(
      await w.message("zhaoliu", "location", { ...location, MsgId: "2", AppType: "wxwork" }),
      200,
    );
    await waitFor(
      () => w.delivered("wangwu").length === 1 && w.delivered("zhaoliu").length === 1,
      "the location replies",
    );
    for (
      const [user, id] of [["zhangsan", "3"], ["lisi", "4"], ["wangwu", "5"], ["zhaoliu", "6"]]
    ) {
      assert.equal(await w.text(user, markdown, id), 200);
    }
    await waitFor(
      () =>
        w.delivered("zhangsan").length === 1 && w.delivered("lisi").length === 1 &&
        w.delivered("wangwu").length === 2 && w.delivered("zhaoliu").length === 2,
      "four replies",
    );
    const last = (user: string) => w.delivered(user).at(-1)!;
    assert.deepEqual([last("zhangsan").msgtype, last("zhangsan").payload.content], [
      "markdown",
      markdown,
    ]);
    assert.deepEqual([last("zhaoliu").msgtype, last("zhaoliu").payload.content], [
      "markdown",
      markdown,
    ]);
    assert.deepEqual([last("lisi").msgtype, last("lisi").payload.content], ["text", plain]);
    assert.deepEqual([last("wangwu").msgtype, last("wangwu").payload.content], ["text", plain]);
  } finally {
    await w.close();
  }
});

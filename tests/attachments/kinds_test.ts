import assert from "node:assert/strict";
import {
  amrSeconds,
  contentTypeFor,
  extensionFor,
  kindForName,
  planUpload,
  sniffFormat,
} from "../../src/attachments/kinds.ts";
import { amr, blob, gif, jpg, mp4, png } from "../../src/simulator/media_samples.ts";

const MB = 1024 * 1024;

Deno.test("formats are judged by the first bytes, not the name", () => {
  assert.equal(sniffFormat(png()), "png");
  assert.equal(sniffFormat(jpg()), "jpg");
  assert.equal(sniffFormat(gif()), "gif");
  assert.equal(sniffFormat(amr()), "amr");
  assert.equal(sniffFormat(mp4()), "mp4");
  assert.equal(sniffFormat(new TextEncoder().encode("%PDF-1.4 x")), "pdf");
  assert.equal(sniffFormat(blob(100)), null);
  assert.equal(sniffFormat(new Uint8Array(0)), null);
});

Deno.test("AMR length is counted in 20 ms frames", () => {
  assert.equal(amrSeconds(amr(1)), 1);
  assert.equal(amrSeconds(amr(61)), 61);
  assert.equal(amrSeconds(png()), undefined);
});

Deno.test("names give kinds and content types; downloads get an extension", () => {
  assert.equal(kindForName("a.JPEG"), "image");
  assert.equal(kindForName("voice.amr"), "voice");
  assert.equal(kindForName("v.mp4"), "video");
  assert.equal(kindForName("x.gif"), "file");
  assert.equal(contentTypeFor("a.png"), "image/png");
  assert.equal(contentTypeFor("a.weird"), "application/octet-stream");
  assert.equal(extensionFor(png(), "x.jpg", "image/jpeg", "bin"), "png", "bytes win");
  assert.equal(extensionFor(blob(10), "", "video/mp4", "bin"), "mp4");
  assert.equal(extensionFor(blob(10), "", "", "amr"), "amr");
});

Deno.test("planUpload sends each file as its own type when WeCom takes it", () => {
  assert.deepEqual(planUpload({ filename: "a.png", bytes: png() }), {
    ok: true,
    kind: "image",
    filename: "a.png",
    contentType: "image/png",
  });
  assert.deepEqual(planUpload({ filename: "photo", bytes: jpg() }), {
    ok: true,
    kind: "image",
    filename: "photo.jpg",
    contentType: "image/jpeg",
  });
  const voice = planUpload({ filename: "n.amr", bytes: amr(2) });
  assert.ok(voice.ok && voice.kind === "voice" && voice.contentType === "audio/amr");
  const video = planUpload({ filename: "c.mp4", bytes: mp4() });
  assert.ok(video.ok && video.kind === "video");
  const pdf = planUpload({ filename: "r.pdf", bytes: new TextEncoder().encode("%PDF-1.4 x") });
  assert.ok(pdf.ok && pdf.kind === "file" && pdf.contentType === "application/pdf");
});

Deno.test("planUpload falls back to a file when WeCom would refuse the type", () => {
  const cases: [string, Uint8Array, "image" | "voice" | "video" | undefined][] = [
    ["cat.gif", gif(), "image"], // images are JPG/PNG only
    ["big.png", png(10 * MB + 1), undefined], // images up to 10 MB
    ["big.mp4", mp4(10 * MB + 1), undefined], // video up to 10 MB
    ["song.mp3", new TextEncoder().encode("ID3......."), "voice"], // voice is AMR only
    ["long.amr", amr(61), undefined], // voice up to 60 s
    ["fake.png", blob(100), "image"], // named PNG, is not one
  ];
  for (const [filename, bytes, wanted] of cases) {
    const plan = planUpload({ filename, bytes, wanted });
    assert.ok(plan.ok && plan.kind === "file", filename);
    assert.equal(plan.ok && plan.filename, filename, "the name is kept");
  }
  const asFile = planUpload({ filename: "a.png", bytes: png(), wanted: "file" });
  assert.ok(asFile.ok && asFile.kind === "file");
});

Deno.test("planUpload refuses what no type takes, saying why", () => {
  const empty = planUpload({ filename: "e.txt", bytes: new Uint8Array(5) });
  assert.deepEqual(empty, {
    ok: false,
    reason: "it is empty (5 bytes); WeCom needs more than 5 bytes",
  });
  const huge = planUpload({ filename: "h.bin", bytes: blob(20 * MB + 1) });
  assert.deepEqual(huge, {
    ok: false,
    reason: "it is 20971521 bytes; WeCom sends files of at most 20 MB",
  });
});

import assert from "node:assert/strict";
import { FAKE_APP, startFakeWeComApi } from "../../src/simulator/wecom_api.ts";
import { blob, png } from "../../src/simulator/media_samples.ts";

async function token(url: string): Promise<string> {
  const answer = await (await fetch(
    `${url}/cgi-bin/gettoken?corpid=${FAKE_APP.corpId}&corpsecret=${FAKE_APP.corpSecret}`,
  )).json();
  return answer.access_token;
}

Deno.test("fake media/upload: multipart field media, type in the query, WeCom's answer", async () => {
  const api = startFakeWeComApi();
  try {
    const t = await token(api.url);
    const form = new FormData();
    form.append("media", new File([png(100) as BlobPart], "p.png", { type: "image/png" }));
    const ok = await (await fetch(`${api.url}/cgi-bin/media/upload?access_token=${t}&type=image`, {
      method: "POST",
      body: form,
    })).json();
    assert.equal(ok.errcode, 0);
    assert.equal(ok.type, "image");
    assert.match(ok.created_at, /^\d+$/);
    assert.equal(api.state.media.get(ok.media_id)?.filename, "p.png");

    const wrongField = new FormData();
    wrongField.append("file", new File([png(100) as BlobPart], "p.png"));
    const missing = await (await fetch(
      `${api.url}/cgi-bin/media/upload?access_token=${t}&type=image`,
      { method: "POST", body: wrongField },
    )).json();
    assert.equal(missing.errcode, 41005);
    const badType = await (await fetch(
      `${api.url}/cgi-bin/media/upload?access_token=${t}&type=gif`,
      { method: "POST", body: form },
    )).json();
    assert.equal(badType.errcode, 40004);
    const noToken = await (await fetch(`${api.url}/cgi-bin/media/upload?type=image`, {
      method: "POST",
      body: form,
    })).json();
    assert.equal(noToken.errcode, 41001);
  } finally {
    await api.close();
  }
});

Deno.test("fake media/get: binary with its name, Range parts, 40007 after 3 days", async () => {
  let now = 1_700_000_000_000;
  const api = startFakeWeComApi({ now: () => now });
  try {
    const t = await token(api.url);
    const bytes = blob(1000);
    const id = api.addMedia(bytes, { filename: "a.txt", contentType: "text/plain" });
    const whole = await fetch(`${api.url}/cgi-bin/media/get?access_token=${t}&media_id=${id}`);
    assert.equal(whole.headers.get("content-disposition"), 'attachment; filename="a.txt"');
    assert.deepEqual(new Uint8Array(await whole.arrayBuffer()), bytes);
    const part = await fetch(`${api.url}/cgi-bin/media/get?access_token=${t}&media_id=${id}`, {
      headers: { range: "bytes=100-199" },
    });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), "bytes 100-199/1000");
    assert.deepEqual(new Uint8Array(await part.arrayBuffer()), bytes.slice(100, 200));
    now += 3 * 24 * 3_600_000 + 1;
    const gettoken = await token(api.url); // the first token expired too
    const expired = await (await fetch(
      `${api.url}/cgi-bin/media/get?access_token=${gettoken}&media_id=${id}`,
    )).json();
    assert.equal(expired.errcode, 40007);
  } finally {
    await api.close();
  }
});

import assert from "node:assert/strict";
import { WeComApiError } from "../../src/wecom/errors.ts";
import { fetchMedia } from "../../src/wecom/media.ts";
import { wecomFetchJson } from "../../src/wecom/request.ts";

/** Two servers on 127.0.0.1:0: `api` redirects everything to `other`, which counts requests. */
function redirectingApi(status: number) {
  let otherHits = 0;
  const other = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    otherHits++;
    await req.body?.cancel();
    return Response.json({ errcode: 0, errmsg: "ok", access_token: "from-the-other-host" });
  });
  const otherOrigin = `http://127.0.0.1:${(other.addr as Deno.NetAddr).port}`;
  const api = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    await req.body?.cancel();
    const url = new URL(req.url);
    return new Response(null, {
      status,
      headers: { location: `${otherOrigin}${url.pathname}${url.search}` },
    });
  });
  return {
    apiOrigin: `http://127.0.0.1:${(api.addr as Deno.NetAddr).port}`,
    otherOrigin,
    otherHits: () => otherHits,
    close: async () => {
      await api.shutdown();
      await other.shutdown();
    },
  };
}

for (const status of [302, 307]) {
  Deno.test(`wecomFetchJson: a ${status} to another host is a retryable error naming both origins, never the token`, async () => {
    const world = redirectingApi(status);
    try {
      await assert.rejects(
        wecomFetchJson(`${world.apiOrigin}/cgi-bin/message/send?access_token=tok-secret`, {
          api: "message/send",
          body: { touser: "lisi", msgtype: "text", text: { content: "hi" } },
        }),
        (error: unknown) => {
          assert.ok(error instanceof WeComApiError);
          assert.equal(error.kind, "retry");
          assert.equal(error.httpStatus, status);
          assert.ok(error.message.includes(`a redirect to ${world.otherOrigin}`), error.message);
          assert.ok(!error.message.includes("tok-secret") && !error.errmsg.includes("tok-secret"));
          return true;
        },
      );
      assert.equal(world.otherHits(), 0);
    } finally {
      await world.close();
    }
  });
}

Deno.test("fetchMedia: a redirect of media/get to another host is an error; the file is not fetched there", async () => {
  const world = redirectingApi(302);
  try {
    await assert.rejects(
      fetchMedia(`${world.apiOrigin}/cgi-bin/media/get?access_token=tok-secret&media_id=m1`, {
        api: "media/get",
        maxBytes: 1024,
      }),
      (error: unknown) => {
        assert.ok(error instanceof WeComApiError);
        assert.equal(error.httpStatus, 302);
        assert.ok(error.message.includes(world.otherOrigin));
        assert.ok(!error.message.includes("tok-secret"));
        return true;
      },
    );
    assert.equal(world.otherHits(), 0);
  } finally {
    await world.close();
  }
});

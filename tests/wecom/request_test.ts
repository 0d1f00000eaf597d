import assert from "node:assert/strict";
import { WeComApiError } from "../../src/wecom/errors.ts";
import { fetchMedia } from "../../src/wecom/media.ts";
import { wecomFetchJson } from "../../src/wecom/request.ts";
import { crossOriginRedirect } from "../fakes/redirect.ts";

/** `api` redirects everything (path and query kept) to `other`, which must get nothing. */
function redirectingApi(status: number) {
  return crossOriginRedirect(
    status,
    () => Response.json({ errcode: 0, errmsg: "ok", access_token: "from-the-other-host" }),
  );
}

for (const status of [302, 307]) {
  Deno.test(`wecomFetchJson: a ${status} to another host is a retryable error naming both origins, never the token`, async () => {
    const world = redirectingApi(status);
    try {
      await assert.rejects(
        wecomFetchJson(`${world.api.origin}/cgi-bin/message/send?access_token=tok-secret`, {
          api: "message/send",
          body: { touser: "lisi", msgtype: "text", text: { content: "hi" } },
        }),
        (error: unknown) => {
          assert.ok(error instanceof WeComApiError);
          assert.equal(error.kind, "retry");
          assert.equal(error.httpStatus, status);
          assert.ok(error.message.includes(`a redirect to ${world.other.origin}`), error.message);
          assert.ok(!error.message.includes("tok-secret") && !error.errmsg.includes("tok-secret"));
          return true;
        },
      );
      assert.equal(world.other.hits.length, 0);
    } finally {
      await world.close();
    }
  });
}

Deno.test("fetchMedia: a redirect of media/get to another host is an error; the file is not fetched there", async () => {
  const world = redirectingApi(302);
  try {
    await assert.rejects(
      fetchMedia(`${world.api.origin}/cgi-bin/media/get?access_token=tok-secret&media_id=m1`, {
        api: "media/get",
        maxBytes: 1024,
      }),
      (error: unknown) => {
        assert.ok(error instanceof WeComApiError);
        assert.equal(error.httpStatus, 302);
        assert.ok(error.message.includes(world.other.origin));
        assert.ok(!error.message.includes("tok-secret"));
        return true;
      },
    );
    assert.equal(world.other.hits.length, 0);
  } finally {
    await world.close();
  }
});

import assert from "node:assert/strict";
import {
  guardedFetch,
  MAX_SAME_ORIGIN_REDIRECTS,
  RedirectRefusedError,
} from "../src/guarded_fetch.ts";
import { crossOriginRedirect, recordingServer } from "./fakes/redirect.ts";

const post = { method: "POST", headers: { "x-api-key": "k-secret" }, body: "the member's words" };

for (const status of [301, 302, 303, 307, 308]) {
  Deno.test(`guardedFetch: a ${status} to another origin is refused; nothing reaches it`, async () => {
    const { api: first, other, close } = crossOriginRedirect(
      status,
      () => new Response("the other host's answer"),
      "/steal?token=t",
    );
    try {
      await assert.rejects(
        guardedFetch(`${first.origin}/hook?token=abc`, post),
        (error: unknown) => {
          assert.ok(error instanceof RedirectRefusedError);
          assert.equal(error.status, status);
          assert.equal(error.fromOrigin, first.origin);
          assert.equal(error.toOrigin, other.origin);
          assert.equal(error.reason, "cross_origin");
          // Origins only: never the paths, whose queries may carry tokens.
          assert.ok(!error.message.includes("token"), error.message);
          assert.ok(error.message.includes(`HTTP ${status}`), error.message);
          return true;
        },
      );
      assert.equal(first.hits.length, 1, "the configured server was asked");
      assert.equal(first.hits[0].headers.get("x-api-key"), "k-secret");
      assert.equal(other.hits.length, 0, "the other origin got nothing");
    } finally {
      await close();
    }
  });
}

Deno.test("guardedFetch: a 307 within the same origin is followed with the method, body and header", async () => {
  const one = recordingServer((_req, url) =>
    url.pathname === "/hook"
      ? new Response(null, { status: 307, headers: { location: "/hook/" } })
      : new Response("ok")
  );
  try {
    const response = await guardedFetch(`${one.origin}/hook`, post);
    assert.equal(await response.text(), "ok");
    assert.deepEqual(
      one.hits.map((hit) => [hit.method, hit.path, hit.headers.get("x-api-key"), hit.body]),
      [
        ["POST", "/hook", "k-secret", "the member's words"],
        ["POST", "/hook/", "k-secret", "the member's words"],
      ],
    );
  } finally {
    await one.close();
  }
});

Deno.test("guardedFetch: a 302 after a POST continues as a GET without the body, as fetch does", async () => {
  const one = recordingServer((_req, url) =>
    url.pathname === "/a"
      ? new Response(null, { status: 302, headers: { location: "/b" } })
      : new Response("b")
  );
  try {
    const response = await guardedFetch(`${one.origin}/a`, post);
    assert.equal(await response.text(), "b");
    assert.deepEqual(one.hits.map((hit) => [hit.method, hit.path, hit.body]), [
      ["POST", "/a", "the member's words"],
      ["GET", "/b", ""],
    ]);
  } finally {
    await one.close();
  }
});

Deno.test("guardedFetch: a same-origin redirect loop stops after the hop limit", async () => {
  const one = recordingServer((_req, url) =>
    new Response(null, { status: 307, headers: { location: `${url.pathname}x` } })
  );
  try {
    await assert.rejects(
      guardedFetch(`${one.origin}/x`, post),
      (error: unknown) => error instanceof RedirectRefusedError && error.reason === "too_many",
    );
    assert.equal(one.hits.length, MAX_SAME_ORIGIN_REDIRECTS + 1);
  } finally {
    await one.close();
  }
});

Deno.test("guardedFetch: a redirect to another port or scheme of the same host is another origin", async () => {
  const one = recordingServer(() =>
    new Response(null, { status: 308, headers: { location: "https://127.0.0.1/hook" } })
  );
  try {
    await assert.rejects(
      guardedFetch(`${one.origin}/hook`, post),
      (error: unknown) =>
        error instanceof RedirectRefusedError && error.toOrigin === "https://127.0.0.1",
    );
  } finally {
    await one.close();
  }
});

Deno.test("guardedFetch: a 3xx without Location and a 304 are answers, not redirects", async () => {
  const one = recordingServer((_req, url) =>
    new Response(url.pathname === "/a" ? "no location" : null, {
      status: url.pathname === "/a" ? 300 : 304,
    })
  );
  try {
    const a = await guardedFetch(`${one.origin}/a`);
    assert.equal(a.status, 300);
    assert.equal(await a.text(), "no location");
    const b = await guardedFetch(`${one.origin}/b`);
    assert.equal(b.status, 304);
    await b.body?.cancel();
  } finally {
    await one.close();
  }
});

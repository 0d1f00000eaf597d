import assert from "node:assert/strict";
import { verifyCallbackUrl } from "../../src/cli/url_verification.ts";
import { importAppCrypto } from "../../src/crypto/mod.ts";
import { startGateway } from "../../src/gateway.ts";
import { log, setLogSink } from "../../src/log.ts";
import { OperatorListenError } from "../../src/operator/server.ts";
import { decideSlot } from "../../src/delivery/pacing.ts";
import { keys } from "../../src/store/keys.ts";
import { testConfig } from "../fakes/config.ts";
import { startOperatorWorld } from "./operator_world.ts";
import { waitFor } from "../lib/wait.ts";

setLogSink({ format: "json", level: "error", write: () => {} });

const TOKEN = "operator-token-0123456789";

async function status(url: string, init: RequestInit = {}): Promise<number> {
  const response = await fetch(url, init);
  await response.body?.cancel();
  return response.status;
}

/** The status of `GET /metrics` sent with `Host: host` over a plain connection. */
async function rawStatus(port: number, host: string): Promise<number> {
  using connection = await Deno.connect({ hostname: "127.0.0.1", port });
  await connection.write(
    new TextEncoder().encode(`GET /metrics HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
  );
  const buffer = new Uint8Array(64);
  const read = await connection.read(buffer);
  return Number(
    /^HTTP\/1\.1 (\d{3})/.exec(new TextDecoder().decode(buffer.subarray(0, read ?? 0)))?.[1],
  );
}

Deno.test("operator listener: /metrics there, not on the public callback port; /health on both", async () => {
  const w = await startOperatorWorld();
  try {
    const publicBase = `http://127.0.0.1:${w.gateway.address!.port}`;
    assert.equal(await status(`${publicBase}/metrics`), 404);
    assert.equal(await status(`${publicBase}/`), 404);
    assert.equal(await status(`${publicBase}/api/overview`), 404);
    assert.equal(await status(`${publicBase}/health`), 200);
    assert.equal(await status(`${w.operatorBase}/metrics`), 200);
    assert.equal(await status(`${w.operatorBase}/health`), 200);
    const page = await fetch(`${w.operatorBase}/`);
    assert.ok((await page.text()).includes("wecom-gateway"));
    assert.match(page.headers.get("content-security-policy")!, /default-src 'none'/);
  } finally {
    await w.close();
  }
});

Deno.test("operator listener with a token: 401 without it or with a wrong one, 200 with it", async () => {
  const w = await startOperatorWorld({ operator: { token: TOKEN } });
  try {
    const metrics = `${w.operatorBase}/metrics`;
    assert.equal(await status(metrics), 401);
    assert.equal(
      await status(metrics, { headers: { authorization: "Bearer wrong-token-0123456789" } }),
      401,
    );
    assert.equal(await status(metrics, { headers: { authorization: `Bearer ${TOKEN}x` } }), 401);
    assert.equal(await status(metrics, { headers: { authorization: TOKEN } }), 401);
    assert.equal(await status(metrics, { headers: { authorization: `Bearer ${TOKEN}` } }), 200);
    assert.equal(await status(`${w.operatorBase}/api/overview`), 401);
    const refused = await fetch(`${w.operatorBase}/api/retry`, {
      method: "POST",
      headers: { "x-operator-console": "1" },
      body: JSON.stringify({ all: true }),
    });
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get("www-authenticate")!, /^Bearer/);
    await refused.body?.cancel();
    // The page holds no data and asks for the token itself; /health stays open.
    assert.equal(await status(`${w.operatorBase}/`), 200);
    assert.equal(await status(`${w.operatorBase}/health`), 200);
    assert.ok((await w.getJson("/api/overview")).apps);
  } finally {
    await w.close();
  }
});

Deno.test("operator listener without a token: foreign Host names and cross-site POSTs are refused", async () => {
  const w = await startOperatorWorld();
  try {
    // A DNS-rebinding page reaches 127.0.0.1 under its own name (fetch cannot set Host).
    const port = w.gateway.operatorAddress!.port;
    assert.equal(await rawStatus(port, "evil.example"), 403);
    assert.equal(await rawStatus(port, `evil.example:${port}`), 403);
    assert.equal(await rawStatus(port, `localhost:${port}`), 200);
    assert.equal(await rawStatus(port, `127.0.0.1:${port}`), 200);
    const post = (headers: Record<string, string>) =>
      status(`${w.operatorBase}/api/retry`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ all: true }),
      });
    assert.equal(await post({}), 403, "no console header: a cross-site form");
    assert.equal(await post({ "x-operator-console": "1", origin: "http://evil.example" }), 403);
    assert.equal(await post({ "x-operator-console": "1" }), 200);
    assert.equal(await post({ "x-operator-console": "1", origin: w.operatorBase }), 200);
  } finally {
    await w.close();
  }
});

Deno.test("operator listener: a port in use fails the start with a clear error, and nothing is left running", async () => {
  using blocker = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const config = await testConfig([]);
  config.operator = { host: "127.0.0.1", port: blocker.addr.port, token: "" };
  const error = await assert.rejects(startGateway(config), (error: unknown) => {
    assert.ok(error instanceof OperatorListenError);
    assert.match(
      error.message,
      new RegExp(
        `^Cannot listen for operators on 127\\.0\\.0\\.1:${blocker.addr.port}: .*` +
          "Set gateway\\.operator\\.port \\(WECOM_GATEWAY_OPERATOR_PORT\\) to a free port, or to 0",
      ),
    );
    return true;
  });
  assert.equal(error, undefined);
});

Deno.test("setup status: each verification GET is diagnosed (token, key, corp id, wrong path, ok)", async () => {
  const w = await startOperatorWorld();
  try {
    const { app } = w;
    const latest = async () => {
      const overview = await w.getJson("/api/overview") as {
        apps: { verification: { code: string; ok: boolean; path: string } | null }[];
        stray: { path: string; code: string }[];
      };
      return overview;
    };
    assert.equal((await latest()).apps[0].verification, null);

    const tries: [string, Parameters<typeof importAppCrypto>, string][] = [
      ["token", [app.encodingAesKey, "SomeOtherToken", app.corpId], w.callbackUrl],
      ["key", ["B".repeat(43), app.token, app.corpId], w.callbackUrl],
      ["corp", [app.encodingAesKey, app.token, "wwanothercorp000"], `${w.callbackUrl}/main`],
      ["ok", [app.encodingAesKey, app.token, app.corpId], w.callbackUrl],
    ];
    for (const [code, keys, url] of tries) {
      const report = await verifyCallbackUrl(await importAppCrypto(...keys), url);
      assert.equal(report.ok, code === "ok", report.explanation);
      await waitFor(
        async () => (await latest()).apps[0].verification?.code === code,
        `the verification ${code}`,
      );
      const verification = (await latest()).apps[0].verification;
      assert.equal(verification?.code, code);
      assert.equal(verification?.ok, code === "ok");
      assert.equal(verification?.path, new URL(url).pathname);
    }

    // WeCom was given a URL whose path is not the gateway's.
    const stray = await verifyCallbackUrl(
      await importAppCrypto(app.encodingAesKey, app.token, app.corpId),
      w.callbackUrl.replace("/wecom/callback", "/wecom/callbak"),
    );
    assert.equal(stray.outcome, "not_found");
    let overview = await latest();
    await waitFor(async () => (overview = await latest()).stray.length > 0, "the stray request");
    assert.deepEqual(overview.stray.map((r) => [r.code, r.path]), [["path", "/wecom/callbak"]]);
  } finally {
    await w.close();
  }
});

Deno.test("overview shows what to paste and never the corp secret or an access token", async () => {
  const w = await startOperatorWorld();
  try {
    assert.equal(await w.text("lisi", "hi", "1"), 200);
    await waitFor(() => w.texts("lisi").length === 1, "the reply");
    const text = JSON.stringify(await w.getJson("/api/overview"));
    assert.ok(text.includes(w.app.token) && text.includes(w.app.encodingAesKey));
    assert.ok(!text.includes(w.app.corpSecret), "corp secret shown");
    const issued = [...w.api.state.tokens.keys()];
    assert.equal(issued.length, 1);
    assert.ok(!text.includes(issued[0]), "access token shown");
    assert.ok(text.includes('"valid":true'), text);
  } finally {
    await w.close();
  }
});

Deno.test("retry through the API is `jobs retry`: the dead letter is queued again and delivered", async () => {
  const w = await startOperatorWorld();
  try {
    w.api.inject("send", [{ errcode: 81013 }]);
    assert.equal(await w.text("wangwu", "hello", "1"), 200);
    let dead: { id: string; lastError?: string }[] = [];
    await waitFor(async () => {
      dead = (await w.getJson("/api/work")).deadLetters as typeof dead;
      return dead.length > 0;
    }, "the dead letter");
    assert.equal(dead.length, 1);
    assert.match(dead[0].lastError!, /81013/);
    const unknown = await w.postJson("/api/retry", { ids: ["nope"] });
    assert.equal(unknown.status, 200);
    assert.equal((unknown.body.results as { ok: boolean }[])[0].ok, false);
    assert.match(
      (unknown.body.results as { error: string }[])[0].error,
      /no dead letter with that id/,
    );
    assert.equal((await w.postJson("/api/retry", {})).status, 400);
    assert.equal((await w.postJson("/api/retry", { ids: "x" })).status, 400);
    const retried = await w.postJson("/api/retry", { ids: [dead[0].id] });
    assert.equal((retried.body.results as { ok: boolean }[])[0].ok, true);
    await waitFor(() => w.texts("wangwu").length === 1, "the retried reply");
    assert.equal(w.texts("wangwu")[0], "hello");
    assert.deepEqual((await w.getJson("/api/work")).deadLetters, []);
  } finally {
    await w.close();
  }
});

Deno.test("test message: queued through the outbox and delivered; a bad app or member id is refused", async () => {
  const w = await startOperatorWorld();
  try {
    const sent = await w.postJson("/api/test-message", { app: "main", user: "zhaoliu" });
    assert.equal(sent.status, 200);
    await waitFor(() => w.texts("zhaoliu").length === 1, "the test message");
    let item: Record<string, unknown> = {};
    await waitFor(async () => {
      item = await w.getJson(`/api/outbox/${sent.body.id}`);
      return item.state === "sent";
    }, "the test message sent");
    assert.equal(item.state, "sent");
    assert.equal(item.conversation, `${w.app.corpId}:zhaoliu`);
    const noApp = await w.postJson("/api/test-message", { app: "nope", user: "zhaoliu" });
    assert.equal(noApp.status, 400);
    assert.match(String(noApp.body.error), /no app 'nope': use one of main/);
    const badUser = await w.postJson("/api/test-message", { app: "main", user: "a b" });
    assert.equal(badUser.status, 400);
    assert.equal((await w.postJson("/api/test-message", "[1]")).status, 400);
    assert.equal(w.texts("zhaoliu").length, 1);
  } finally {
    await w.close();
  }
});

Deno.test("history: callbacks, latency, queue depth, agent time and send errors by errcode per interval", async () => {
  const w = await startOperatorWorld();
  try {
    w.api.inject("send", [{ errcode: 81013 }]);
    for (let i = 0; i < 5; i++) assert.equal(await w.text(`u${i}`, "x", String(i)), 200);
    await waitFor(() => w.api.delivered().length === 4, "the replies");
    await new Promise((resolve) => setTimeout(resolve, 350));
    const { points } = await w.getJson("/api/history") as {
      points: {
        callbacksPerSecond: number;
        ackMeanMs: number | null;
        ackP95Ms: number | null;
        queued: number | null;
        agentMeanSeconds: number | null;
        sendErrors: Record<string, number>;
      }[];
    };
    assert.ok(points.length >= 2, JSON.stringify(points));
    assert.ok(points.some((p) => p.callbacksPerSecond > 0));
    assert.ok(points.some((p) => p.ackMeanMs !== null && p.ackMeanMs > 0 && p.ackP95Ms! >= 0.5));
    assert.ok(points.every((p) => p.queued !== null));
    assert.ok(points.some((p) => p.agentMeanSeconds !== null));
    assert.equal(points.reduce((sum, p) => sum + (p.sendErrors["81013"] ?? 0), 0), 1);
  } finally {
    await w.close();
  }
});

Deno.test("log tail: warnings and errors, redacted as the log is; keys: a valid pair", async () => {
  const w = await startOperatorWorld();
  try {
    log.warn("operator tail probe", { token: "tail-secret-value", app: "main" });
    const { lines } = await w.getJson("/api/log") as {
      lines: { msg: string; fields: Record<string, unknown> }[];
    };
    const line = lines.find((l) => l.msg === "operator tail probe");
    assert.deepEqual(line?.fields, { token: "[redacted]", app: "main" });
    assert.ok(!JSON.stringify(lines).includes("tail-secret-value"));

    const keys = await w.getJson("/api/keys") as { token: string; encodingAesKey: string };
    assert.match(keys.token, /^[A-Za-z0-9]{32}$/);
    await importAppCrypto(keys.encodingAesKey, keys.token, "ww1");
  } finally {
    await w.close();
  }
});

Deno.test("overview pacing: a member over the per-minute limit is held until enough sends leave the window, as delivery decides", async () => {
  const w = await startOperatorWorld({
    configure: (config) => {
      config.delivery = { ...config.delivery, perMinute: 2 };
    },
  });
  try {
    const now = Date.now();
    // Three sends in the last minute (e.g. from before the limit was lowered): with a limit of 2,
    // the member may be sent to again once the second of them is a minute old, not the first.
    const sent = [now - 50_000, now - 40_000, now - 30_000];
    await w.gateway.kv.set(keys.pacing(w.app.corpId, w.app.agentId, "lisi"), { sent });
    await w.gateway.kv.set(keys.pacing(w.app.corpId, w.app.agentId, "wangwu"), {
      sent: [now - 10_000],
    });
    const overview = await w.getJson("/api/overview") as {
      apps: { pacing: { members: number; atLimit: { user: string; until: number }[] } }[];
    };
    const pacing = overview.apps[0].pacing;
    assert.equal(pacing.members, 2);
    assert.equal(pacing.atLimit.length, 1, JSON.stringify(pacing));
    assert.equal(pacing.atLimit[0].user, "lisi");
    const expected = decideSlot(sent, now, { perMinute: 2, perHour: w.config.delivery.perHour });
    assert.ok(!expected.ok);
    assert.ok(pacing.atLimit[0].until >= now - 40_000 + 60_000, JSON.stringify(pacing));
    assert.ok(Math.abs(pacing.atLimit[0].until - expected.retryAt) < 5_000);
  } finally {
    await w.close();
  }
});

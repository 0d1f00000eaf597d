import { equal, match, ok } from "node:assert/strict";
import { probeAgent } from "../../src/agent/probe.ts";
import { agentConfig } from "./fixtures.ts";

/** A server on 127.0.0.1 answering `handler`; the requests it saw. */
function serve(handler: (request: Request) => Response) {
  const seen: { method: string; path: string }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    seen.push({ method: request.method, path: new URL(request.url).pathname });
    return handler(request);
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, seen, close: () => server.shutdown() };
}

Deno.test("probe: openai is reachable on GET /models with the key; a refused key is named, not shown", async () => {
  const api = serve((request) =>
    request.headers.get("authorization") === "Bearer sk-right-key"
      ? Response.json({ data: [] })
      : new Response("no", { status: 401 })
  );
  try {
    const config = (apiKey: string) =>
      agentConfig({
        kind: "openai",
        openai: {
          baseUrl: `${api.url}/v1`,
          apiKey,
          model: "m",
          systemPrompt: "",
          historyMaxBytes: 1,
        },
      });
    const good = await probeAgent(config("sk-right-key"));
    ok(good.ok, good.detail);
    equal(api.seen[0].path, "/v1/models");
    const refused = await probeAgent(config("sk-wrong-key"));
    equal(refused.ok, false);
    match(refused.detail, /refused the API key \(HTTP 401\)/);
    ok(!refused.detail.includes("sk-wrong-key"));
  } finally {
    await api.close();
  }
});

Deno.test("probe: http is reachable when its server answers HEAD; a closed port is not", async () => {
  const hook = serve(() => new Response(null, { status: 405 }));
  try {
    const up = await probeAgent(
      agentConfig({ kind: "http", http: { url: `${hook.url}/agent`, headers: {} } }),
    );
    ok(up.ok, up.detail);
    equal(hook.seen[0].method, "HEAD");
  } finally {
    await hook.close();
  }
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = closed.addr.port;
  closed.close();
  const down = await probeAgent(
    agentConfig({
      kind: "http",
      http: {
        url: `http://127.0.0.1:${port}/agent`,
        headers: { authorization: "Bearer hook-secret" },
      },
    }),
    2000,
  );
  equal(down.ok, false);
  match(down.detail, /^not reachable: /);
  ok(!down.detail.includes("hook-secret"));
});

Deno.test("probe: command finds its program on PATH or fails naming it; echo is always there", async () => {
  const found = await probeAgent(
    agentConfig({ kind: "command", command: { argv: ["sh", "-c", "cat"] } }),
  );
  ok(found.ok, found.detail);
  const missing = await probeAgent(
    agentConfig({ kind: "command", command: { argv: ["no-such-agent-program-xyz"] } }),
  );
  equal(missing.ok, false);
  match(missing.detail, /no-such-agent-program-xyz is not found/);
  ok((await probeAgent(agentConfig())).ok);
});

import assert from "node:assert/strict";
import { setLogSink } from "../../src/log.ts";
import { startWorld } from "../fakes/world.ts";
import { waitFor } from "../lib/wait.ts";

// The refused redirect is logged for the operator: captured here and asserted, not printed.
const logged: string[] = [];
setLogSink({ format: "json", level: "info", write: (line) => logged.push(line) });

for (const status of [302, 307]) {
  Deno.test(`a member's message to an http agent that answers ${status} to another host: that host's answer never reaches the member`, async () => {
    const otherHits: (string | null)[] = [];
    const other = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async (req) => {
        otherHits.push(req.headers.get("x-api-key"));
        await req.body?.cancel();
        return Response.json({ reply: "ANSWER FROM THE OTHER HOST" });
      },
    );
    const otherOrigin = `http://127.0.0.1:${(other.addr as Deno.NetAddr).port}`;
    let agentHits = 0;
    const agent = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async (req) => {
        agentHits++;
        await req.body?.cancel();
        return new Response(null, { status, headers: { location: `${otherOrigin}/hook` } });
      },
    );
    const agentUrl = `http://127.0.0.1:${(agent.addr as Deno.NetAddr).port}/hook`;
    const w = await startWorld({
      configure: (config) => {
        config.agent = {
          ...config.agent,
          kind: "http",
          http: { url: agentUrl, headers: { "X-Api-Key": "k-secret" } },
        };
      },
    });
    try {
      assert.equal(await w.text("lisi", "hello", "9100"), 200);
      // Positive control: the job ran, the agent was asked, and the member was told it failed.
      await waitFor(() => w.texts("lisi").length > 0, "the failure notice");
      assert.ok(agentHits >= 1);
      const texts = w.texts("lisi");
      assert.ok(
        texts.every((text) => !text.includes("ANSWER FROM THE OTHER HOST")),
        texts.join("|"),
      );
      assert.deepEqual(otherHits, [], "the other host got neither the message nor the header");
      const failed = logged.filter((line) => line.includes(`HTTP ${status}, a redirect to`));
      assert.ok(failed.some((line) => line.includes(otherOrigin)), logged.join("\n"));
      assert.ok(!logged.some((line) => line.includes("k-secret")), "the secret header was logged");
    } finally {
      await w.close();
      await agent.shutdown();
      await other.shutdown();
    }
  });
}

import assert from "node:assert/strict";
import { setLogSink } from "../../src/log.ts";
import { crossOriginRedirect } from "../fakes/redirect.ts";
import { startWorld } from "../fakes/world.ts";
import { waitFor } from "../lib/wait.ts";

// The refused redirect is logged for the operator: captured here and asserted, not printed.
const logged: string[] = [];
setLogSink({ format: "json", level: "info", write: (line) => logged.push(line) });

for (const status of [302, 307]) {
  Deno.test(`a member's message to an http agent that answers ${status} to another host: that host's answer never reaches the member`, async () => {
    const { api: agent, other, close } = crossOriginRedirect(
      status,
      () => Response.json({ reply: "ANSWER FROM THE OTHER HOST" }),
      "/hook",
    );
    const agentUrl = `${agent.origin}/hook`;
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
      assert.ok(agent.hits.length >= 1);
      const texts = w.texts("lisi");
      assert.ok(
        texts.every((text) => !text.includes("ANSWER FROM THE OTHER HOST")),
        texts.join("|"),
      );
      assert.deepEqual(other.hits, [], "the other host got neither the message nor the header");
      const failed = logged.filter((line) => line.includes(`HTTP ${status}, a redirect to`));
      assert.ok(failed.some((line) => line.includes(other.origin)), logged.join("\n"));
      assert.ok(!logged.some((line) => line.includes("k-secret")), "the secret header was logged");
    } finally {
      await w.close();
      await close();
    }
  });
}

import assert from "node:assert/strict";
import { createRouter } from "../../src/http/router.ts";

Deno.test("while the gateway is unavailable, callbacks and /health answer 503 with the reason", async () => {
  const state: { down?: string } = {};
  let callbacks = 0;
  const handler = createRouter({
    path: "/wecom/callback",
    apps: [],
    callback: () => {
      callbacks++;
      return Promise.resolve(new Response(null, { status: 200 }));
    },
    metrics: () => "up 1\n",
    unavailable: () => state.down,
  });
  const ask = async (path: string, method = "GET") => {
    const response = await handler(
      new Request(`http://gw${path}`, { method, body: method === "POST" ? "<xml/>" : null }),
    );
    return { status: response.status, body: await response.text() };
  };
  // Positive control: available.
  assert.deepEqual(await ask("/health"), { status: 200, body: '{"status":"ok"}' });
  assert.equal((await ask("/wecom/callback", "POST")).status, 200);
  assert.equal(callbacks, 1);

  state.down = "the KV file ./data/kv.sqlite3 was deleted";
  const health = await ask("/health");
  assert.equal(health.status, 503);
  assert.deepEqual(JSON.parse(health.body), { status: "error", reason: state.down });
  assert.equal((await ask("/wecom/callback", "POST")).status, 503);
  assert.equal(callbacks, 1, "the callback handler is not reached: nothing is recorded");
  assert.equal((await ask("/metrics")).status, 200, "metrics still answer");
});

/**
 * Connection pressure on a gateway subprocess under a low `ulimit -n`: more
 * idle connections than it has descriptors (half of them idle keep-alive
 * after a request, half silent) must not kill it; `/health` answers during
 * the flood, and once the flood is released a valid callback is acknowledged
 * within a second and replied to exactly once.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHarness } from "./lib/harness.ts";
import { measured } from "../lib/measured.ts";
import { waitFor } from "../lib/wait.ts";
import { waitForSettledKv } from "./lib/kv_state.ts";

const LIMIT = 256;
const FLOOD = 400;

async function flood(port: number, count: number): Promise<Deno.Conn[]> {
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < count; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conns.push(conn);
    // Half idle keep-alive (after one answered request), half silent.
    if (i % 2 === 0) {
      await conn.write(new TextEncoder().encode("GET /health HTTP/1.1\r\nHost: gw\r\n\r\n"))
        .catch(() => {});
      conn.read(new Uint8Array(1024)).catch(() => {});
    }
  }
  return conns;
}

Deno.test({
  name: `${FLOOD} idle connections under ulimit -n ${LIMIT}: the gateway lives, /health answers, ` +
    "and a callback after the flood is acknowledged and replied to once",
  async fn() {
    const h = await createHarness({ agentSeconds: 0.1 });
    // Timeouts far beyond the test: only the connection cap stands between the flood and EMFILE.
    // The metrics are on the operator listener: give it a free port of its own.
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const operatorPort = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const env = {
      WECOM_GATEWAY_HTTP_IDLE_TIMEOUT_SECONDS: "600",
      WECOM_GATEWAY_HTTP_HEADER_TIMEOUT_SECONDS: "600",
      WECOM_GATEWAY_OPERATOR_PORT: String(operatorPort),
    };
    const gateway = await h.start("all", "gateway", env, LIMIT);
    let conns: Deno.Conn[] = [];
    try {
      const port = Number(new URL(gateway.baseUrl!).port);
      conns = await flood(port, FLOOD);
      await new Promise((resolve) => setTimeout(resolve, 1000));

      let exited = false;
      gateway.exited.then(() => exited = true);
      assert.equal(exited, false, `the gateway died under the flood:\n${gateway.output()}`);
      const health = await fetch(`${gateway.baseUrl}/health`, {
        signal: AbortSignal.timeout(5000),
      });
      assert.equal(health.status, 200, "/health answers during the flood");
      await health.body?.cancel();

      const metrics = await (await fetch(`http://127.0.0.1:${operatorPort}/metrics`)).text();
      const shed = Number(
        /wecom_http_connections_closed_total\{reason="shed"\} (\d+)/.exec(metrics)?.[1],
      );
      assert.ok(shed > 0, `the idlest connections were shed for new ones:\n${metrics}`);
      const acceptErrors = Number(
        /wecom_http_connections_closed_total\{reason="accept_error"\} (\d+)/.exec(metrics)?.[1] ??
          0,
      );
      // The cap (42 here) kept its reserve: accept() never ran out of descriptors.
      assert.equal(
        acceptErrors,
        0,
        `accept() failed for lack of descriptors:\n${gateway.output()}`,
      );

      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // shed by the gateway
        }
      }
      conns = [];

      const began = performance.now();
      assert.equal(await h.post(gateway, await h.callback("lisi", "after the flood", "9001")), 200);
      const ackMs = performance.now() - began;
      assert.ok(ackMs < 1000, `acknowledged ${Math.round(ackMs)} ms after the flood ended`);
      await waitFor(() => h.api.delivered("lisi").length >= 1, "the reply", 15_000);
      await waitForSettledKv(h.kvPath);
      assert.deepEqual(h.api.delivered("lisi").map((m) => m.payload.content), ["after the flood"]);
      assert.equal(exited, false);
      assert.ok(!/Uncaught/.test(gateway.output()), `no error escaped:\n${gateway.output()}`);
      const stopped = await gateway.stop();
      assert.equal(stopped.code, 0, gateway.output());
      measured(
        `flood of ${FLOOD} under ulimit -n ${LIMIT}: ${shed} shed, ${acceptErrors} accept errors; ` +
          `callback acknowledged in ${Math.round(ackMs)} ms after it`,
      );
    } finally {
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // closed
        }
      }
      await gateway.kill();
      await h.close();
    }
  },
});

/**
 * The KV file deleted or replaced under a running gateway subprocess: within
 * seconds it stops acknowledging (503, so WeCom retries), `/health` fails with
 * the reason, the reason is logged, and the process exits non-zero for its
 * supervisor to restart it on a real store. A callback acknowledged before is
 * replied to; the one refused after is acknowledged by the restarted gateway
 * and replied to exactly once.
 *
 * @module
 */

import { measured } from "../lib/measured.ts";
import assert from "node:assert/strict";
import type { GatewayProcess } from "./lib/gateway_process.ts";
import { createHarness, type Harness } from "./lib/harness.ts";
import { waitFor } from "../lib/wait.ts";
import { waitForSettledKv } from "./lib/kv_state.ts";

const CHECK = { WECOM_GATEWAY_KV_CHECK_SECONDS: "0.2" };

/** Polls /health until it is not 200; returns its status and body (0 when refused). */
async function firstUnhealthy(gateway: GatewayProcess): Promise<{ status: number; body: string }> {
  for (const began = performance.now(); performance.now() - began < 10_000;) {
    try {
      const response = await fetch(`${gateway.baseUrl}/health`, {
        signal: AbortSignal.timeout(2000),
      });
      const body = await response.text();
      if (response.status !== 200) return { status: response.status, body };
    } catch {
      return { status: 0, body: "" };
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`/health stayed 200 for 10 s:\n${gateway.output()}`);
}

async function scenario(
  h: Harness,
  lose: () => Promise<void>,
  expected: RegExp,
): Promise<void> {
  const gateway = await h.start("all", "gateway", CHECK);
  try {
    // Positive control: a working gateway acknowledges and replies.
    assert.equal(await h.post(gateway, await h.callback("lisi", "before", "1")), 200);
    await waitFor(() => h.api.delivered("lisi").length === 1, "the first reply");

    const lostAt = performance.now();
    await lose();
    const unhealthy = await firstUnhealthy(gateway);
    const noticedMs = performance.now() - lostAt;
    assert.equal(unhealthy.status, 503, `health: ${unhealthy.status} ${unhealthy.body}`);
    assert.match(unhealthy.body, expected);
    assert.ok(noticedMs < 3000, `noticed in ${Math.round(noticedMs)} ms`);

    const retried = await h.callback("lisi", "after", "2");
    const status = await h.post(gateway, retried);
    assert.notEqual(status, 200, "nothing is acknowledged into a lost file");
    const exited = await Promise.race([
      gateway.exited,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 10_000)),
    ]);
    assert.ok(exited, "the gateway exits by itself");
    assert.notEqual(exited.code, 0, "with a non-zero code for the supervisor");
    assert.match(gateway.output(), /KV store lost/);
    assert.match(gateway.output(), expected);

    // The supervisor's restart on a real store: WeCom's retry is acknowledged, replied once.
    const again = await h.start("all", "restarted", CHECK);
    try {
      assert.equal(await h.post(again, retried), 200);
      assert.equal(await h.post(again, retried), 200, "a further retry is a duplicate");
      await waitFor(() => h.api.delivered("lisi").length >= 2, "the reply after the restart");
      await waitForSettledKv(h.kvPath);
      assert.deepEqual(h.api.delivered("lisi").map((m) => m.payload.content), ["before", "after"]);
      assert.equal((await again.stop()).code, 0, again.output());
    } finally {
      await again.kill();
    }
    measured(`${expected.source}: noticed in ${Math.round(noticedMs)} ms`);
  } finally {
    await gateway.kill();
  }
}

Deno.test("KV file deleted under a running gateway: 503, /health fails, exit non-zero", async () => {
  const h = await createHarness({ agentSeconds: 0.1 });
  try {
    await scenario(h, async () => {
      for (const suffix of ["", "-wal", "-shm"]) {
        await Deno.remove(h.kvPath + suffix).catch(() => {});
      }
    }, /was deleted/);
  } finally {
    await h.close();
  }
});

Deno.test("KV file replaced under a running gateway: 503, /health fails, exit non-zero", async () => {
  const h = await createHarness({ agentSeconds: 0.1 });
  try {
    await scenario(h, async () => {
      // What a careless restore does: another file moved over the path.
      const other = `${h.dir}/other.sqlite3`;
      const kv = await Deno.openKv(other);
      kv.close();
      await Deno.rename(other, h.kvPath);
    }, /was replaced/);
  } finally {
    await h.close();
  }
});

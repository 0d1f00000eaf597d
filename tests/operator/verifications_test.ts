import assert from "node:assert/strict";
import { createVerificationLog } from "../../src/operator/verifications.ts";

Deno.test("verification log: a scan of stray paths is throttled as one path (bounded memory and writes)", async () => {
  const kv = await Deno.openKv(":memory:");
  let clock = 1_000_000;
  const log = createVerificationLog(kv, () => clock);
  try {
    for (let i = 0; i < 5000; i++) log.observeStray(`/scan/${i}`);
    await log.flushed();
    assert.deepEqual(
      (await log.list()).map((r) => `${r.path} ${r.code}`),
      ["/scan/0 path"],
      "within a second only the first stray GET is written",
    );
    clock += 1500;
    log.observeStray("/later");
    await log.flushed();
    assert.deepEqual(
      (await log.list()).map((r) => r.path),
      ["/later"],
      "a second later the next stray GET is written (positive control)",
    );
    log.observe({ method: "GET", status: 200, outcome: "verified", ms: 1, path: "/wecom/a" });
    await log.flushed();
    assert.deepEqual(
      (await log.list()).map((r) => `${r.path} ${r.code}`).sort(),
      ["/later path", "/wecom/a ok"],
      "a callback path keeps its own record beside the stray one",
    );
  } finally {
    kv.close();
  }
});

import assert from "node:assert/strict";
import { delay } from "../src/delay.ts";

Deno.test("delay waits about the time asked, and leaves no timer behind", async () => {
  const begun = performance.now();
  await delay(30);
  assert.ok(performance.now() - begun >= 25);
});

Deno.test("delay ends at once with the signal's reason when it aborts, before or during the wait", async () => {
  await assert.rejects(delay(10, { signal: AbortSignal.abort(new Error("before")) }), /before/);
  const controller = new AbortController();
  const waiting = delay(60_000, { signal: controller.signal });
  controller.abort(new Error("during"));
  // The test sanitizer fails the test if the 60 s timer were left running.
  await assert.rejects(waiting, /during/);
});

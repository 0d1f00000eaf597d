import assert from "node:assert/strict";
import { createPriorityGate } from "../src/priority_gate.ts";

Deno.test("priority gate: background work goes at once when no callback is in progress", async () => {
  const gate = createPriorityGate();
  await gate.idle();
  const done = gate.urgent();
  done();
  await gate.idle();
  assert.deepEqual(gate.stats(), { waits: 0, trickled: 0 });
});

Deno.test("priority gate: background work waits until the last callback in progress is answered", async () => {
  const gate = createPriorityGate({ trickleMs: 60_000 });
  const first = gate.urgent();
  const second = gate.urgent();
  let released = 0;
  const waiting = [gate.idle(), gate.idle()].map((wait) => wait.then(() => released++));
  first();
  first(); // ending twice counts once
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(released, 0, "one callback is still in progress");
  second();
  await Promise.all(waiting);
  assert.deepEqual(gate.stats(), { waits: 2, trickled: 0 });
});

Deno.test("priority gate: under a stream of callbacks, waiting work goes one at a time, oldest first", async () => {
  const gate = createPriorityGate({ trickleMs: 15 });
  const done = gate.urgent();
  const order: number[] = [];
  const begun = performance.now();
  const at: number[] = [];
  const waits = [1, 2, 3].map((n) =>
    gate.idle().then(() => {
      order.push(n);
      at.push(performance.now() - begun);
    })
  );
  await Promise.all(waits);
  assert.deepEqual(order, [1, 2, 3]);
  // One per trickle: the third goes about three intervals after the first waited.
  assert.ok(at[2] >= 40, `the third went after ${at[2].toFixed(1)} ms`);
  assert.deepEqual(gate.stats(), { waits: 3, trickled: 3 });
  done();
});

Deno.test("priority gate: a pause in the callbacks releases every waiter and stops the trickle", async () => {
  const gate = createPriorityGate({ trickleMs: 60_000 });
  const done = gate.urgent();
  const waits = [gate.idle(), gate.idle(), gate.idle()];
  done();
  // The test sanitizer fails the test if the 60 s trickle timer were left running.
  await Promise.all(waits);
  assert.deepEqual(gate.stats(), { waits: 3, trickled: 0 });
});

Deno.test("priority gate: a trickle interval that is not a positive number is refused with the value named", () => {
  assert.throws(
    () => createPriorityGate({ trickleMs: 0 }),
    /'trickleMs' must be a positive number: current value is 0/,
  );
  assert.throws(() => createPriorityGate({ trickleMs: NaN }), /current value is NaN/);
});

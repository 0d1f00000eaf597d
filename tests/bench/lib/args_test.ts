import assert from "node:assert/strict";
import { flag, integerFlag } from "../../../bench/lib/args.ts";

Deno.test("flag reads --name value and --name=value, and is undefined when absent", () => {
  assert.equal(flag(["--rate", "2500"], "rate"), "2500");
  assert.equal(flag(["--json=out.json"], "json"), "out.json");
  assert.equal(flag(["--rate-concurrency", "8"], "rate"), undefined);
  assert.equal(flag([], "rate"), undefined);
});

Deno.test("integerFlag falls back, enforces its minimum and names the script in its error", () => {
  const script = { script: "the load test" };
  assert.equal(integerFlag([], "requests", 20000, script), 20000);
  assert.equal(integerFlag(["--warmup", "0"], "warmup", 300, { ...script, min: 0 }), 0);
  assert.throws(
    () => integerFlag(["--requests", "0"], "requests", 20000, script),
    /Cannot run the load test as '--requests' must be an integer of at least 1: current value is '0'/,
  );
  assert.throws(() => integerFlag(["--rate", "1.5"], "rate", 1, script), RangeError);
  assert.throws(() => integerFlag(["--rate", ""], "rate", 1, script), RangeError);
  assert.throws(() => integerFlag(["--rate"], "rate", 1, script), RangeError);
});

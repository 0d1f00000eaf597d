import assert from "node:assert/strict";
import { COMMANDS, usage } from "../../src/cli/main.ts";

Deno.test("every command of the list loads as the command it names, with the summary it shows", async () => {
  assert.deepEqual(COMMANDS.map((entry) => entry.name), [
    "serve",
    "check",
    "simulate",
    "jobs",
    "demo",
    "install",
  ]);
  for (const entry of COMMANDS) {
    const command = await entry.load();
    assert.equal(command.name, entry.name);
    assert.equal(command.summary, entry.summary, `the summary of '${entry.name}' drifted`);
    assert.ok(usage().includes(entry.summary));
  }
});

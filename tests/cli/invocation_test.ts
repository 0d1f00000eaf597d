import assert from "node:assert/strict";
import { cliCommand, isNpxDeno, taskCommand } from "../../src/cli/invocation.ts";

const NPX = "/home/me/.npm/_npx/7a40be787520bede/node_modules/deno/deno";

Deno.test("printed commands follow how the user runs the gateway: npx, deno on PATH, the binary", () => {
  assert.equal(taskCommand("demo", NPX, "2.9.6"), "npx --yes deno@2.9.6 task demo");
  assert.equal(cliCommand(NPX, "2.9.6"), "npx --yes deno@2.9.6 task cli");
  assert.equal(taskCommand("demo", "/usr/local/bin/deno", "2.9.6"), "deno task demo");
  assert.equal(cliCommand("/usr/local/bin/deno", "2.9.6"), "deno task cli");
  assert.equal(cliCommand("/opt/gw/wecom-gateway", "2.9.6"), "/opt/gw/wecom-gateway");
  assert.equal(
    isNpxDeno("C:\\Users\\me\\AppData\\Local\\npm-cache\\_npx\\abc\\node_modules\\deno\\deno.exe"),
    true,
  );
  assert.equal(isNpxDeno("/opt/_npx/wecom-gateway"), false, "a compiled binary is not deno");
});

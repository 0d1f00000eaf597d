// The command agent of a real gateway process gets none of the gateway's secrets.
import assert from "node:assert/strict";
import { createHarness } from "./lib/harness.ts";
import { waitFor } from "../lib/wait.ts";

Deno.test("a gateway process's command agent sees neither DENO_KV_ACCESS_TOKEN nor OPENAI_API_KEY, and sees what agent.command.env names", async () => {
  const h = await createHarness({
    env: {
      DENO_KV_ACCESS_TOKEN: "kv-token-secret",
      OPENAI_API_KEY: "sk-openai-secret",
      HERMES_HOME: "/srv/hermes",
      WECOM_GATEWAY_COMMAND_ENV: "FAULTS_PROCESS,HERMES_HOME",
    },
  });
  const envFile = `${h.dir}/agent-env.txt`;
  const script = `${h.dir}/print-env.sh`;
  await Deno.writeTextFile(script, `#!/bin/sh\nenv > '${envFile}'\necho done\n`);
  await Deno.chmod(script, 0o755);
  const gateway = await h.start("all", "env-check", { WECOM_GATEWAY_COMMAND: script });
  try {
    assert.equal(await h.post(gateway, await h.callback("lisi", "hi", "9300")), 200);
    await waitFor(() => h.api.delivered().length >= 1, "the reply", 15_000);
    const env = await Deno.readTextFile(envFile);
    assert.match(env, /^HERMES_HOME=\/srv\/hermes$/m, "named in agent.command.env");
    assert.match(env, /^FAULTS_PROCESS=env-check$/m);
    assert.match(env, /^WECOM_USER_ID=lisi$/m);
    assert.doesNotMatch(env, /DENO_KV_ACCESS_TOKEN|kv-token-secret/);
    assert.doesNotMatch(env, /OPENAI_API_KEY|sk-openai-secret/);
    assert.doesNotMatch(env, /WECOM_CALLBACK_|WECOM_GATEWAY_/);
  } finally {
    await gateway.stop();
    await h.close();
  }
});

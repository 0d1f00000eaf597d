import assert from "node:assert/strict";
import { startFakeHermes } from "../fakes/hermes_api.ts";
import { runCli } from "./run_cli.ts";

const KEY = "demo-hermes-key-0123";

Deno.test("`demo --agent hermes` shows the member the user's own Hermes answering through the simulated WeCom", async () => {
  const hermes = startFakeHermes({ apiKey: KEY });
  try {
    const result = await runCli(
      ["demo", "--agent", "hermes", "--agent-url", hermes.url, "--say", "你好 Hermes"],
      { env: { API_SERVER_KEY: KEY } },
    );
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.match(result.stdout, /agent hermes/);
    assert.match(result.stdout, /gateway → user {3}text "Hermes: 你好 Hermes"/);
    assert.match(result.stdout, /your agent answered through the simulated WeCom/);
    assert.equal(hermes.requests.length, 1);
    assert.ok(hermes.requests[0].sessionHeader?.startsWith("wecom-"));
    assert.ok(!result.stdout.includes(KEY) && !result.stderr.includes(KEY));
  } finally {
    await hermes.close();
  }
});

Deno.test("`demo --agent hermes` says why the agent failed and exits 1; without a key it exits 2", async () => {
  const hermes = startFakeHermes({ apiKey: KEY, behave: () => ({ failure: "provider_down" }) });
  try {
    const failed = await runCli(
      ["demo", "--agent", "hermes", "--agent-url", hermes.url, "--timeout", "20"],
      { env: { API_SERVER_KEY: KEY } },
    );
    assert.equal(failed.code, 1, failed.stdout);
    assert.match(
      failed.stderr,
      /the agent failed; the member got the apology\. Reason: backend: Hermes at/,
    );
    assert.match(failed.stderr, /check --online/);
    assert.ok(
      !failed.stdout.includes("Connection error"),
      "the member never sees Hermes' error text",
    );
    const noKey = await runCli(["demo", "--agent", "hermes", "--agent-url", hermes.url], {
      env: {},
    });
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /API_SERVER_KEY is not set/);
    const bad = await runCli(["demo", "--agent", "claude"], { env: {} });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /'--agent' must be hermes or openai/);
  } finally {
    await hermes.close();
  }
});

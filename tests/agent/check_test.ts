import assert from "node:assert/strict";
import { checkAgentOnline } from "../../src/agent/check.ts";
import { createCheckCommand } from "../../src/cli/check.ts";
import { captureContext } from "../../src/cli/context.ts";
import { HERMES_DEFAULTS } from "../../src/agent/backends/hermes.ts";
import { FAKE_APP, startFakeWeComApi } from "../../src/simulator/wecom_api.ts";
import { startFakeHermes } from "../fakes/hermes_api.ts";
import { startFakeOpenAi } from "../fakes/openai_api.ts";
import { crossOriginRedirect } from "../fakes/redirect.ts";
import { agentConfig } from "./fixtures.ts";
import { workdir } from "../cli/run_cli.ts";

const KEY = "hermes-check-key-0123";
const OPTIONS = { timeoutMs: 2000, env: {} as Record<string, string> };

function hermesAgent(url: string, apiKey: string, model = "hermes-agent") {
  return agentConfig({
    kind: "hermes",
    hermes: { ...HERMES_DEFAULTS, baseUrl: url, apiKey, model },
  });
}

Deno.test("check --online (whole command) checks Hermes too: a wrong key fails the check, naming the variable", async () => {
  const api = startFakeWeComApi();
  const hermes = startFakeHermes({ apiKey: "the-right-key" });
  const dir = await workdir();
  try {
    const env = {
      WECOM_CALLBACK_CORP_ID: FAKE_APP.corpId,
      WECOM_CALLBACK_CORP_SECRET: FAKE_APP.corpSecret,
      WECOM_CALLBACK_AGENT_ID: FAKE_APP.agentId,
      WECOM_CALLBACK_TOKEN: "CheckToken0123456789abcdefXYZ",
      WECOM_CALLBACK_ENCODING_AES_KEY: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
      WECOM_CALLBACK_API_BASE: api.url,
      WECOM_CALLBACK_ALLOWED_USERS: "zhangsan",
      WECOM_GATEWAY_KV: `${dir}/kv.sqlite3`,
      WECOM_GATEWAY_AGENT: "hermes",
      WECOM_GATEWAY_HERMES_URL: hermes.url,
      API_SERVER_KEY: KEY,
    };
    const { context, stdout } = captureContext({ env, cwd: dir });
    const code = await createCheckCommand({ context, timeoutMs: 2000 }).run(["--online"]);
    assert.equal(code, 1);
    assert.match(stdout(), /gettoken ok/);
    assert.match(
      stdout(),
      /FAIL +the key in API_SERVER_KEY is rejected by http:\/\/127\.0\.0\.1:\d+\/v1 \(HTTP 401: Invalid API key\)/,
    );
    assert.ok(!stdout().includes(KEY));
    assert.match(stdout(), /Some checks failed/);
  } finally {
    await hermes.close();
    await api.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("agent check: Hermes reachable, key and session headers accepted, without running the model", async () => {
  const hermes = startFakeHermes({ apiKey: KEY });
  try {
    const lines = await checkAgentOnline(hermesAgent(hermes.url, KEY), OPTIONS);
    assert.ok(lines.every((line) => line.verdict === "ok"), JSON.stringify(lines));
    assert.match(lines.map((line) => line.text).join("\n"), /model 'hermes-agent' is served/);
    assert.match(
      lines.map((line) => line.text).join("\n"),
      /accepts the key and the session headers/,
    );
    assert.equal(hermes.sessions.size, 0, "no run was started");
    const unknown = await checkAgentOnline(hermesAgent(hermes.url, KEY, "gpt-9"), OPTIONS);
    assert.ok(
      unknown.some((line) =>
        line.verdict === "fail" &&
        /set agent\.hermes\.model to one it lists \(hermes-agent\)/.test(line.text)
      ),
    );
  } finally {
    await hermes.close();
  }
});

Deno.test("agent check: Hermes without API_SERVER_KEY refuses session headers, and the fix says so", async () => {
  const hermes = startFakeHermes();
  try {
    const lines = await checkAgentOnline(hermesAgent(hermes.url, ""), OPTIONS);
    const failed = lines.filter((line) => line.verdict === "fail");
    assert.equal(failed.length, 1, JSON.stringify(lines));
    assert.match(
      failed[0].text,
      /Hermes refuses session headers \(HTTP 403.*set API_SERVER_KEY in Hermes' \$HERMES_HOME\/\.env/,
    );
  } finally {
    await hermes.close();
  }
});

Deno.test("agent check: openai down, wrong key, right key", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const openai = (baseUrl: string, apiKey: string) =>
    agentConfig({
      kind: "openai",
      openai: {
        baseUrl,
        apiKey,
        apiKeyEnv: "MY_KEY",
        model: "fake-model",
        systemPrompt: "",
        historyMaxBytes: 0,
      },
    });
  const down = await checkAgentOnline(openai(`http://127.0.0.1:${port}/v1`, "k"), OPTIONS);
  assert.match(
    down[0].text,
    new RegExp(`cannot reach http://127.0.0.1:${port}/v1: .*fix agent\\.openai\\.base_url`),
  );
  const fake = startFakeOpenAi({ apiKey: "sk-right" });
  try {
    const wrong = await checkAgentOnline(openai(fake.url, "sk-wrong"), OPTIONS);
    const failed = wrong.filter((line) => line.verdict === "fail");
    assert.equal(failed.length, 1, JSON.stringify(wrong));
    assert.match(
      failed[0].text,
      /the key in MY_KEY is rejected by http:\/\/127\.0\.0\.1:\d+\/v1 \(HTTP 401/,
    );
    const right = await checkAgentOnline(openai(fake.url, "sk-right"), OPTIONS);
    assert.ok(right.every((line) => line.verdict === "ok"), JSON.stringify(right));
  } finally {
    await fake.close();
  }
});

Deno.test("agent check: command program on PATH and executable, cwd exists; http host reachable", async () => {
  const dir = await workdir();
  try {
    await Deno.writeTextFile(`${dir}/agent.sh`, "#!/bin/sh\necho hi\n");
    await Deno.chmod(`${dir}/agent.sh`, 0o644);
    const command = (argv: string[], cwd?: string) =>
      agentConfig({ kind: "command", command: { argv, ...(cwd ? { cwd } : {}) } });
    const env = { PATH: `${dir}:/usr/bin:/bin` };
    const notExec = await checkAgentOnline(command(["agent.sh"]), { ...OPTIONS, env });
    assert.match(notExec[0].text, /'agent\.sh' is not executable: chmod \+x it/);
    await Deno.chmod(`${dir}/agent.sh`, 0o755);
    const good = await checkAgentOnline(command(["agent.sh"], dir), { ...OPTIONS, env });
    assert.ok(good.every((line) => line.verdict === "ok"), JSON.stringify(good));
    const missing = await checkAgentOnline(command(["no-such-agent"], `${dir}/nope`), {
      ...OPTIONS,
      env,
    });
    assert.equal(missing.filter((line) => line.verdict === "fail").length, 2);
    assert.match(missing.map((line) => line.text).join("\n"), /not on PATH/);
    assert.match(missing.map((line) => line.text).join("\n"), /does not exist: create it/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("ok"),
  );
  try {
    const http = (url: string) => agentConfig({ kind: "http", http: { url, headers: {} } });
    const up = await checkAgentOnline(http(`http://127.0.0.1:${server.addr.port}/agent`), OPTIONS);
    assert.equal(up[0].verdict, "ok");
  } finally {
    await server.shutdown();
  }
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const down = await checkAgentOnline(
    agentConfig({ kind: "http", http: { url: `http://127.0.0.1:${port}/x`, headers: {} } }),
    OPTIONS,
  );
  assert.match(
    down[0].text,
    /cannot reach the agent webhook at 127\.0\.0\.1:\d+: .*fix agent\.http\.url/,
  );
});

Deno.test("agent check: a server that redirects to another origin fails the check; the key never goes there", async () => {
  const { api, other, close } = crossOriginRedirect(
    307,
    () => Response.json({ data: [{ id: "fake-model" }] }),
  );
  try {
    const lines = await checkAgentOnline(
      agentConfig({
        kind: "openai",
        openai: {
          baseUrl: `${api.origin}/v1`,
          apiKey: "sk-check-secret",
          apiKeyEnv: "MY_KEY",
          model: "fake-model",
          systemPrompt: "",
          historyMaxBytes: 0,
        },
      }),
      OPTIONS,
    );
    assert.equal(lines[0].verdict, "fail", JSON.stringify(lines));
    assert.match(
      lines[0].text,
      /HTTP 307, a redirect to http:\/\/127\.0\.0\.1:\d+, which is not followed/,
    );
    assert.ok(!lines.some((line) => line.text.includes("sk-check-secret")));
    assert.ok(api.hits.length >= 1, "the configured server was asked");
    assert.deepEqual(other.hits, [], "the other origin got neither the key nor a request");
  } finally {
    await close();
  }
});

import assert from "node:assert/strict";
import { createCheckCommand } from "../../src/cli/check.ts";
import { captureContext } from "../../src/cli/context.ts";
import { FAKE_APP, startFakeWeComApi } from "../../src/simulator/wecom_api.ts";
import { dotenv, runCli, workdir } from "./run_cli.ts";

const TOKEN = "CheckToken0123456789abcdefXYZ";
const AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

/** The variables of one app pointing at `apiBase`, KV in `dir`. */
function appEnv(dir: string, apiBase: string, overrides: Record<string, string> = {}) {
  return {
    WECOM_CALLBACK_CORP_ID: FAKE_APP.corpId,
    WECOM_CALLBACK_CORP_SECRET: FAKE_APP.corpSecret,
    WECOM_CALLBACK_AGENT_ID: FAKE_APP.agentId,
    WECOM_CALLBACK_TOKEN: TOKEN,
    WECOM_CALLBACK_ENCODING_AES_KEY: AES_KEY,
    WECOM_CALLBACK_API_BASE: apiBase,
    WECOM_CALLBACK_ALLOWED_USERS: "zhangsan,lisi",
    WECOM_GATEWAY_KV: `${dir}/data/kv.sqlite3`,
    ...overrides,
  };
}

function assertNoSecrets(text: string, secrets: string[]): void {
  for (const secret of secrets) {
    assert.ok(!text.includes(secret), `output contains a secret (${secret.length} chars)`);
  }
}

/** Runs `check` in-process with `env` and `dir` as the working directory. */
async function check(args: string[], env: Record<string, string>, dir: string) {
  const { context, stdout, stderr } = captureContext({ env, cwd: dir });
  const code = await createCheckCommand({ context, timeoutMs: 2000 }).run(args);
  return { code, stdout: stdout(), stderr: stderr(), all: stdout() + stderr() };
}

/** A port on 127.0.0.1 where nothing listens. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("check --help (subprocess) names --online and the exit codes", async () => {
  const result = await runCli(["check", "--help"]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /--online/);
  assert.match(result.stdout, /Exit codes: 0 all good, 1 a check failed, 2/);
});

Deno.test("check --online (subprocess) against the simulated WeCom API passes and shows no secret", async () => {
  const api = startFakeWeComApi();
  const dir = await workdir();
  try {
    await Deno.writeTextFile(`${dir}/.env`, dotenv(appEnv(dir, api.url)));
    const result = await runCli(["check", "--online"], { cwd: dir, env: { HOME: dir } });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /Configuration is valid/);
    assert.match(result.stdout, /corp_secret: 43 characters, token: 29 characters/);
    assert.match(result.stdout, /allowlist: +2 entries: zhangsan, lisi/);
    assert.match(result.stdout, /ok +KV at .*kv\.sqlite3 opens and is writable/);
    assert.match(result.stdout, /ok +gettoken ok in \d+ ms/);
    assert.match(result.stdout, /All checks passed/);
    assert.equal(api.gettokenCalls(FAKE_APP.agentId), 1);
    assertNoSecrets(result.stdout + result.stderr, [FAKE_APP.corpSecret, TOKEN, AES_KEY]);
  } finally {
    await api.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check lists every configuration problem at once and exits 2", async () => {
  const dir = await workdir();
  try {
    const env = appEnv(dir, "https://qyapi.weixin.qq.com", {
      WECOM_CALLBACK_ENCODING_AES_KEY: "tooShort",
      WECOM_CALLBACK_AGENT_ID: "agent-x",
    });
    const result = await check([], env, dir);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /2 problems/);
    assert.match(result.stderr, /WECOM_CALLBACK_ENCODING_AES_KEY/);
    assert.match(result.stderr, /WECOM_CALLBACK_AGENT_ID/);
    assert.match(result.stderr, /run '(deno|npx --yes deno@[\d.]+) task cli check' again/);
    assertNoSecrets(result.all, [FAKE_APP.corpSecret, TOKEN, "tooShort"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check without --online touches no network, warns about an empty allowlist and an in-memory KV", async () => {
  const dir = await workdir();
  try {
    const env = appEnv(dir, `http://127.0.0.1:${closedPort()}`, {
      WECOM_CALLBACK_ALLOWED_USERS: "",
      WECOM_GATEWAY_KV: ":memory:",
    });
    const result = await check([], env, dir);
    assert.equal(result.code, 0, result.all);
    assert.match(result.stdout, /allowlist: +warning: nobody may talk to the agent yet/);
    assert.match(result.stdout, /warn +KV is in memory/);
    assert.match(result.stdout, /Run '(deno|npx --yes deno@[\d.]+) task cli check --online'/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check fails when the KV location cannot be created", async () => {
  const dir = await workdir({ "a-file": "not a directory" });
  try {
    const env = appEnv(dir, "https://qyapi.weixin.qq.com", {
      WECOM_GATEWAY_KV: `${dir}/a-file/kv.sqlite3`,
    });
    const result = await check([], env, dir);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /FAIL +Cannot open Deno KV at .*a-file\/kv\.sqlite3/);
    assert.match(result.stdout, /Set WECOM_GATEWAY_KV to a writable file path/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check --online explains a wrong secret (40001) without printing either secret", async () => {
  const api = startFakeWeComApi();
  const dir = await workdir();
  try {
    const wrong = "wrong-secret-0123456789abcdefghijklmnopqrst";
    const result = await check(
      ["--online"],
      appEnv(dir, api.url, { WECOM_CALLBACK_CORP_SECRET: wrong }),
      dir,
    );
    assert.equal(result.code, 1);
    assert.match(
      result.stdout,
      /FAIL +gettoken failed: WeCom refused corp_secret \(errcode 40001\)/,
    );
    assert.match(result.stdout, /wrong, was reset in the admin console, or the app is disabled/);
    assert.match(result.stdout, /banned by WeCom for an hour/);
    assert.match(result.stdout, /Some checks failed/);
    assertNoSecrets(result.all, [wrong, FAKE_APP.corpSecret, TOKEN, AES_KEY]);
  } finally {
    await api.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check --online explains an unknown CorpID (40013)", async () => {
  const api = startFakeWeComApi();
  const dir = await workdir();
  try {
    const result = await check(
      ["--online"],
      appEnv(dir, api.url, { WECOM_CALLBACK_CORP_ID: "wwunknown000000001" }),
      dir,
    );
    assert.equal(result.code, 1);
    assert.match(result.stdout, /does not know corp_id 'wwunknown000000001' \(errcode 40013\)/);
    assert.match(result.stdout, /我的企业 → 企业信息/);
  } finally {
    await api.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check --online explains 60020 with the IP WeCom saw and where to add it", async () => {
  const api = startFakeWeComApi();
  const dir = await workdir();
  try {
    api.inject("gettoken", [{ errcode: 60020 }]);
    const result = await check(["--online"], appEnv(dir, api.url), dir);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /errcode 60020/);
    assert.match(result.stdout, /WeCom saw the request coming from 127\.0\.0\.1/);
    assert.match(result.stdout, /Add 127\.0\.0\.1 to the trusted IPs of app 'default'/);
    assert.match(result.stdout, /企业可信IP/);
    assertNoSecrets(result.all, [FAKE_APP.corpSecret, TOKEN, AES_KEY]);
  } finally {
    await api.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check --online explains an unreachable api_base as a refused connection", async () => {
  const dir = await workdir();
  try {
    const base = `http://127.0.0.1:${closedPort()}`;
    const result = await check(["--online"], appEnv(dir, base), dir);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /Cannot reach WeCom at api_base http:\/\/127\.0\.0\.1:\d+/);
    assert.match(result.stdout, /Connection refused/);
    assert.match(result.stdout, /HTTPS_PROXY/);
    assertNoSecrets(result.all, [FAKE_APP.corpSecret, TOKEN, AES_KEY]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check --online confirms agent_id with agent/get and explains a wrong one (301002)", async () => {
  const agentIds: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/cgi-bin/gettoken") {
      return Response.json({ errcode: 0, errmsg: "ok", access_token: "t0k3n", expires_in: 7200 });
    }
    const agentId = url.searchParams.get("agentid") ?? "";
    agentIds.push(agentId);
    return agentId === "1000002"
      ? Response.json({ errcode: 0, errmsg: "ok", agentid: 1000002, name: "HR助手", close: 0 })
      : Response.json({ errcode: 301002, errmsg: "not allow operate another agent" });
  });
  const dir = await workdir();
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const good = await check(["--online"], appEnv(dir, base), dir);
    assert.equal(good.code, 0, good.all);
    assert.match(good.stdout, /ok +agent_id 1000002 is the app "HR助手"/);
    assert.match(good.stdout, /Agent \(echo\):\n +ok +the echo agent needs nothing/);

    // The agent backend is probed as the operator console does: a missing program fails.
    const noAgent = await check(
      ["--online"],
      appEnv(dir, base, {
        WECOM_GATEWAY_AGENT: "command",
        WECOM_GATEWAY_COMMAND: "no-such-agent-program-xyz",
      }),
      dir,
    );
    assert.equal(noAgent.code, 1, noAgent.all);
    assert.match(
      noAgent.stdout,
      /FAIL +the agent program 'no-such-agent-program-xyz' is not on PATH/,
    );

    const bad = await check(
      ["--online"],
      appEnv(dir, base, { WECOM_CALLBACK_AGENT_ID: "1000009" }),
      dir,
    );
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /does not accept agent_id 1000009 for this Secret \(errcode 301002\)/);
    assert.match(bad.stdout, /must come from the same app/);
    assert.deepEqual(agentIds, ["1000002", "1000002", "1000009"]);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check refuses an unknown option with exit 2 and a pointer to --help", async () => {
  const dir = await workdir();
  try {
    const result = await check(["--onlin"], appEnv(dir, "https://qyapi.weixin.qq.com"), dir);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /'check' has no option '?--onlin/);
    assert.match(result.stderr, /wecom-gateway check --help/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check shows a deprecated delivery.max_attempts as a warning with the fix, and passes", async () => {
  const dir = await workdir();
  try {
    await Deno.writeTextFile(`${dir}/config.yaml`, "gateway:\n  delivery:\n    max_attempts: 8\n");
    const env = appEnv(dir, `http://127.0.0.1:${closedPort()}`);
    const result = await check([], env, dir);
    assert.equal(result.code, 0, result.all);
    assert.match(
      result.stdout,
      /^Warning: gateway\.delivery\.max_attempts .*deprecated and ignored.*Fix: Remove gateway\.delivery\.max_attempts; set gateway\.delivery\.retry_window_minutes/m,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../../src/config/load.ts";

const AES_A = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const AES_B = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq";

/** Valid credentials for the single app configured through variables. */
const ENV_APP = {
  WECOM_CALLBACK_CORP_ID: "wwenvcorp",
  WECOM_CALLBACK_CORP_SECRET: "env-secret",
  WECOM_CALLBACK_AGENT_ID: "1000009",
  WECOM_CALLBACK_TOKEN: "EnvToken",
  WECOM_CALLBACK_ENCODING_AES_KEY: AES_B,
};

async function withDir(files: Record<string, string>, fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "wecom_config_test_" });
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(join(dir, name), text);
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function configError(promise: Promise<unknown>): Promise<ConfigError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error;
  }
  throw new assert.AssertionError({ message: "expected loadConfig to throw a ConfigError" });
}

function includes(text: string, part: string): void {
  assert.ok(text.includes(part), `expected to find ${JSON.stringify(part)} in:\n${text}`);
}

const FLAT_YAML = `
platforms:
  wecom_callback:
    enabled: true
    extra:
      corp_id: "wwflatcorp"
      corp_secret: "flat-secret"
      agent_id: 1000002
      token: "FlatToken"
      encoding_aes_key: "${AES_A}"
      host: "127.0.0.1"
      port: 9001
      path: "/hook/"
      api_base: "http://127.0.0.1:9999/"
      allowed_users: "zhangsan, wwflatcorp:lisi"
`;

Deno.test("flat single-app yaml loads with its values and the documented defaults", async () => {
  await withDir({ "config.yaml": FLAT_YAML }, async (dir) => {
    const config = await loadConfig({ cwd: dir, env: {}, args: [] });
    assert.deepEqual(config.apps, [{
      name: "default",
      corpId: "wwflatcorp",
      corpSecret: "flat-secret",
      agentId: "1000002",
      token: "FlatToken",
      encodingAesKey: AES_A,
      apiBase: "http://127.0.0.1:9999",
    }]);
    assert.deepEqual(config.host, "127.0.0.1");
    assert.deepEqual(config.port, 9001);
    assert.deepEqual(config.path, "/hook");
    assert.deepEqual(config.access.allowedUsers, ["zhangsan", "wwflatcorp:lisi"]);
    assert.deepEqual(config.access.allowAll, false);
    // defaults
    assert.deepEqual(config.replayWindowSeconds, 300);
    assert.deepEqual(config.kvPath, join(dir, "data", "wecom-gateway.sqlite3"));
    assert.deepEqual(config.logFormat, "human");
    assert.deepEqual(config.agent.kind, "echo");
    assert.deepEqual(config.agent.timeoutMs, 30 * 60 * 1000);
    assert.deepEqual(config.agent.workers, 4);
    assert.deepEqual(config.jobs.concurrency, 4);
    assert.deepEqual(config.jobs.leaseMs, 60_000);
    assert.deepEqual(config.jobs.maxAttempts, 3);
    assert.deepEqual(config.jobs.workingNoticeMs, 60_000);
    assert.deepEqual(config.jobs.recallWorkingNotice, true);
    assert.deepEqual(config.jobs.pollMs, 1000);
    assert.ok(config.jobs.workingNoticeText.length > 0);
    assert.deepEqual(config.delivery, {
      markdown: false,
      retryWindowMs: 30 * 60_000,
      retryMaxBackoffMs: 5 * 60_000,
      perMinute: 30,
      perHour: 1000,
      requestTimeoutMs: 10_000,
      plainTextUsers: [],
      detectWeChat: true,
    });
    assert.deepEqual(config.access.refusalNoticeSeconds, 86400);
    includes(config.access.refusalNoticeText, "administrator");
  });
});

Deno.test("defaults apply when only the five variables are set (env-only, no files)", async () => {
  await withDir({}, async (dir) => {
    const config = await loadConfig({ cwd: dir, env: ENV_APP });
    assert.deepEqual(config.apps.length, 1);
    assert.deepEqual(config.apps[0].name, "default");
    assert.deepEqual(config.apps[0].corpId, "wwenvcorp");
    assert.deepEqual(config.apps[0].apiBase, "https://qyapi.weixin.qq.com");
    assert.deepEqual(config.host, "0.0.0.0");
    assert.deepEqual(config.port, 8645);
    assert.deepEqual(config.path, "/wecom/callback");
  });
});

Deno.test("apps list form gives one AppConfig per entry, with per-app api_base", async () => {
  const yaml = `
platforms:
  wecom_callback:
    extra:
      apps:
        - name: dept-a
          corp_id: ww_corp_a
          corp_secret: secret-a
          agent_id: "1000002"
          token: TokenA
          encoding_aes_key: ${AES_A}
        - name: dept_b
          corp_id: ww_corp_b
          corp_secret: secret-b
          agent_id: 1000003
          token: TokenB
          encoding_aes_key: ${AES_B}
          api_base: https://proxy.example/wecom/
`;
  await withDir({ "config.yaml": yaml }, async (dir) => {
    const config = await loadConfig({ cwd: dir, env: {} });
    assert.deepEqual(config.apps.map((app) => [app.name, app.corpId, app.agentId, app.apiBase]), [
      ["dept-a", "ww_corp_a", "1000002", "https://qyapi.weixin.qq.com"],
      ["dept_b", "ww_corp_b", "1000003", "https://proxy.example/wecom"],
    ]);
  });
});

Deno.test("environment overrides the flat yaml keys one by one; the rest stays from yaml", async () => {
  await withDir({ "config.yaml": FLAT_YAML }, async (dir) => {
    const config = await loadConfig({
      cwd: dir,
      env: {
        WECOM_CALLBACK_TOKEN: "OverrideToken",
        WECOM_CALLBACK_PORT: "9100",
        WECOM_CALLBACK_PATH: "/other",
        WECOM_CALLBACK_ALLOWED_USERS: "*",
        WECOM_GATEWAY_KV: ":memory:",
        WECOM_GATEWAY_CONCURRENCY: "2",
        LOG_FORMAT: "json",
        WECOM_GATEWAY_MARKDOWN: "yes",
        WECOM_CALLBACK_REPLAY_WINDOW_SECONDS: "0",
        // an empty variable counts as unset
        WECOM_CALLBACK_HOST: "",
      },
    });
    assert.deepEqual(config.apps[0].token, "OverrideToken");
    assert.deepEqual(config.apps[0].corpId, "wwflatcorp");
    assert.deepEqual(config.port, 9100);
    assert.deepEqual(config.path, "/other");
    assert.deepEqual(config.host, "127.0.0.1");
    assert.deepEqual(config.access.allowAll, true);
    assert.deepEqual(config.kvPath, ":memory:");
    assert.deepEqual(config.jobs.concurrency, 2);
    assert.deepEqual(config.agent.workers, 2, "workers default to the job concurrency");
    assert.deepEqual(config.logFormat, "json");
    assert.deepEqual(config.delivery.markdown, true);
    assert.deepEqual(config.replayWindowSeconds, 0);
  });
});

Deno.test(".env is read, and the real environment wins over it", async () => {
  const dotenv = [
    "WECOM_CALLBACK_CORP_ID=wwdotenv",
    "WECOM_CALLBACK_CORP_SECRET=dotenv-secret",
    "WECOM_CALLBACK_AGENT_ID=1000002",
    "WECOM_CALLBACK_TOKEN=DotenvToken",
    `WECOM_CALLBACK_ENCODING_AES_KEY="${AES_A}"`,
    "WECOM_CALLBACK_PORT=7000",
    "# a comment",
    "WECOM_GATEWAY_AGENT=command",
    "WECOM_GATEWAY_COMMAND='hermes chat  --stdin'",
  ].join("\n");
  await withDir({ ".env": dotenv, "config.yaml": FLAT_YAML }, async (dir) => {
    const before = Deno.env.get("WECOM_CALLBACK_CORP_ID");
    const config = await loadConfig({ cwd: dir, env: { WECOM_CALLBACK_PORT: "7001" } });
    assert.deepEqual(config.apps[0].corpId, "wwdotenv", ".env beats config.yaml");
    assert.deepEqual(config.apps[0].encodingAesKey, AES_A);
    assert.deepEqual(config.port, 7001, "environment beats .env");
    assert.deepEqual(config.agent.kind, "command");
    assert.deepEqual(config.agent.command.argv, ["hermes", "chat", "--stdin"]);
    assert.deepEqual(Deno.env.get("WECOM_CALLBACK_CORP_ID"), before, "Deno.env is not touched");
  });
});

Deno.test("--config PATH, --config=PATH and WECOM_GATEWAY_CONFIG choose the file", async () => {
  const other = FLAT_YAML.replace("port: 9001", "port: 9002");
  await withDir({ "config.yaml": FLAT_YAML, "other.yaml": other }, async (dir) => {
    assert.deepEqual((await loadConfig({ cwd: dir, env: {} })).port, 9001);
    assert.deepEqual(
      (await loadConfig({ cwd: dir, env: {}, args: ["--config", "other.yaml"] })).port,
      9002,
    );
    assert.deepEqual(
      (await loadConfig({ cwd: dir, env: {}, args: ["serve", `--config=${dir}/other.yaml`] })).port,
      9002,
    );
    assert.deepEqual(
      (await loadConfig({ cwd: dir, env: { WECOM_GATEWAY_CONFIG: "other.yaml" } })).port,
      9002,
    );
    await Deno.writeTextFile(join(dir, ".env"), "WECOM_GATEWAY_CONFIG=other.yaml\n");
    assert.deepEqual((await loadConfig({ cwd: dir, env: {} })).port, 9002, "named in .env");
    await Deno.remove(join(dir, ".env"));
    // arguments beat the variable
    assert.deepEqual(
      (await loadConfig({
        cwd: dir,
        env: { WECOM_GATEWAY_CONFIG: "other.yaml" },
        args: ["--config", "config.yaml"],
      })).port,
      9001,
    );
  });
});

Deno.test("a missing explicitly named config file is an error; a missing default file is fine", async () => {
  await withDir({}, async (dir) => {
    const error = await configError(
      loadConfig({ cwd: dir, env: ENV_APP, args: ["--config", "nope.yaml"] }),
    );
    assert.deepEqual(error.problems.length, 1);
    assert.deepEqual(error.problems[0].key, "--config");
    includes(error.message, join(dir, "nope.yaml"));
    includes(error.message, "does not exist");
    includes(error.message, "Fix:");

    const viaEnv = await configError(
      loadConfig({ cwd: dir, env: { ...ENV_APP, WECOM_GATEWAY_CONFIG: "gone.yaml" } }),
    );
    includes(viaEnv.message, "WECOM_GATEWAY_CONFIG");
    includes(viaEnv.message, "gone.yaml");

    const dangling = await configError(loadConfig({ cwd: dir, env: ENV_APP, args: ["--config"] }));
    includes(dangling.message, "without a file name");

    const config = await loadConfig({ cwd: dir, env: ENV_APP });
    assert.deepEqual(config.apps.length, 1);
  });
});

Deno.test("invalid YAML is reported with its line, without echoing the file's text", async () => {
  const secret = "Zq9SuperSecretCorpValue";
  const yaml =
    `platforms:\n  wecom_callback:\n    extra:\n      corp_secret: ${secret}\n     token: [oops\n`;
  await withDir({ "config.yaml": yaml }, async (dir) => {
    const error = await configError(loadConfig({ cwd: dir, env: {} }));
    assert.deepEqual(error.problems.length, 1);
    includes(error.message, "not valid YAML");
    includes(error.message, "line ");
    assert.ok(!error.message.includes(secret), error.message);
  });
});

Deno.test("a YAML error names the line to correct: where a quote or bracket was left open, not where the parser noticed", async () => {
  const cases: { yaml: string; line: RegExp }[] = [
    // An unclosed quote on line 4: the parser only notices at the end of the file (line 7).
    {
      yaml: `platforms:\n  wecom_callback:\n    extra:\n      corp_id: "ww1\n      token: abc\n` +
        `      agent_id: 1000002\n`,
      line: /Missing closing "quote \(line 4, left open until line 7\)/,
    },
    // An unclosed flow map on line 2, noticed at line 3.
    {
      yaml: "gateway:\n  jobs: {concurrency: 4\nagent:\n  kind: echo\n",
      line: /\(line 2, left open until line 3\)/,
    },
    // CRLF line ends count the same.
    { yaml: "a: 1\r\nb: 'x\r\nc: 2\r\n", line: /\(line 2, left open until line 4\)/ },
    // An error the parser places right keeps its line and column.
    {
      yaml: "platforms:\n  wecom_callback:\n    extra:\n      corp_id: ww1\n     token: abc\n",
      line: /\(line 5, column 1\)/,
    },
  ];
  for (const { yaml, line } of cases) {
    await withDir({ "config.yaml": yaml }, async (dir) => {
      const error = await configError(loadConfig({ cwd: dir, env: {} }));
      assert.match(error.message, line);
    });
  }
});

Deno.test("the apps list plus the single-app variables adds an app named default", async () => {
  const yaml = `
platforms:
  wecom_callback:
    extra:
      apps:
        - name: dept-a
          corp_id: ww_corp_a
          corp_secret: secret-a
          agent_id: 1000002
          token: TokenA
          encoding_aes_key: ${AES_A}
`;
  await withDir({ "config.yaml": yaml }, async (dir) => {
    const config = await loadConfig({ cwd: dir, env: ENV_APP });
    assert.deepEqual(config.apps.map((app) => app.name), ["dept-a", "default"]);
    assert.deepEqual(config.apps[1].corpId, "wwenvcorp");

    const partial = await configError(
      loadConfig({ cwd: dir, env: { WECOM_CALLBACK_CORP_ID: "wwenvcorp" } }),
    );
    assert.equal(partial.problems.length, 4, "the added app still needs all five");
    includes(partial.message, 'app "default", token / WECOM_CALLBACK_TOKEN: is missing.');
    includes(partial.message, "Fix: Set WECOM_CALLBACK_TOKEN (in the environment or .env)");

    const clash = yaml.replace("name: dept-a", "name: default");
    await Deno.writeTextFile(join(dir, "config.yaml"), clash);
    const error = await configError(loadConfig({ cwd: dir, env: ENV_APP }));
    assert.deepEqual(error.problems.length, 1);
    assert.deepEqual(error.problems[0].app, "default");
    assert.deepEqual(error.problems[0].key, "name");
    includes(error.message, "Rename");
  });
});

Deno.test("Hermes's own sample config (docs page) loads once the placeholders are valid", async () => {
  // The multi-app example from Hermes's WeCom Callback page, with its placeholder
  // tokens ("token-a") and keys ("key-a-43-chars...") replaced by valid values.
  const yaml = `platforms:
  wecom_callback:
    enabled: true
    extra:
      host: "0.0.0.0"
      port: 8645
      apps:
        - name: "dept-a"
          corp_id: "ww_corp_a"
          corp_secret: "secret-a"
          agent_id: "1000002"
          token: "tokena"
          encoding_aes_key: "${AES_A}"
        - name: "dept-b"
          corp_id: "ww_corp_b"
          corp_secret: "secret-b"
          agent_id: "1000003"
          token: "tokenb"
          encoding_aes_key: "${AES_B}"
`;
  // Hermes's .env sample for the single-app form.
  const dotenv = `WECOM_CALLBACK_CORP_ID=your-corp-id
WECOM_CALLBACK_CORP_SECRET=your-corp-secret
WECOM_CALLBACK_AGENT_ID=1000002
WECOM_CALLBACK_TOKEN=yourcallbacktoken
WECOM_CALLBACK_ENCODING_AES_KEY=${AES_B}
# Optional
WECOM_CALLBACK_HOST=0.0.0.0
WECOM_CALLBACK_PORT=8645
WECOM_CALLBACK_ALLOWED_USERS=user1,user2
`;
  await withDir({ "config.yaml": yaml }, async (dir) => {
    const config = await loadConfig({ cwd: dir, env: { WECOM_CALLBACK_ALLOW_ALL_USERS: "true" } });
    assert.deepEqual(config.apps.map((app) => app.name), ["dept-a", "dept-b"]);
    assert.deepEqual(config.host, "0.0.0.0");
    assert.deepEqual(config.port, 8645);
    assert.deepEqual(config.access.allowAll, true);
  });
  await withDir({ ".env": dotenv }, async (dir) => {
    const config = await loadConfig({ cwd: dir, env: {} });
    assert.deepEqual(config.apps[0].corpId, "your-corp-id");
    assert.deepEqual(config.apps[0].agentId, "1000002");
    assert.deepEqual(config.access.allowedUsers, ["user1", "user2"]);
  });
});

Deno.test("config.example.yaml at the project root loads as is", async () => {
  const example = new URL("../../config.example.yaml", import.meta.url).pathname;
  await withDir({}, async (dir) => {
    const config = await loadConfig({ cwd: dir, env: {}, args: ["--config", example] });
    assert.deepEqual(config.apps.length, 1);
    assert.deepEqual(config.port, 8645);
    assert.deepEqual(config.agent.command.argv, ["hermes", "chat", "-Q", "-q", "{message}"]);
  });
});

Deno.test("agent sections: openai reads its key from the variable named by api_key_env", async () => {
  const yaml = `
agent:
  kind: openai
  max_turns: 90 # a Hermes key: left alone
  timeout_seconds: 0.5
  workers: 3
  openai:
    base_url: http://127.0.0.1:1234/v1/
    model: test-model
    api_key_env: MY_MODEL_KEY
    system_prompt: Be brief.
  http:
    url: http://127.0.0.1:1/x
    headers:
      Authorization: Bearer abc
      X-Count: 3
  command:
    argv: [sleep, 1]
    cwd: sub
gateway:
  kv: db/kv.sqlite3
  multiplex_profiles: true # a Hermes key: left alone
  jobs:
    lease_seconds: 0.3
    working_notice_seconds: 0
`;
  await withDir({ "config.yaml": yaml }, async (dir) => {
    const config = await loadConfig({ cwd: dir, env: { ...ENV_APP, MY_MODEL_KEY: "sk-test" } });
    assert.deepEqual(config.agent.kind, "openai");
    assert.deepEqual(config.agent.timeoutMs, 500);
    assert.deepEqual(config.agent.workers, 3);
    assert.deepEqual(config.agent.openai, {
      baseUrl: "http://127.0.0.1:1234/v1",
      apiKey: "sk-test",
      apiKeyEnv: "MY_MODEL_KEY",
      headers: {},
      model: "test-model",
      systemPrompt: "Be brief.",
      historyMaxBytes: 32768,
    });
    assert.deepEqual(config.agent.http.headers, { Authorization: "Bearer abc", "X-Count": "3" });
    assert.deepEqual(config.agent.command, { argv: ["sleep", "1"], cwd: join(dir, "sub") });
    assert.deepEqual(config.kvPath, join(dir, "db", "kv.sqlite3"));
    assert.deepEqual(config.jobs.leaseMs, 300);
    assert.deepEqual(config.jobs.workingNoticeMs, 0);
  });
});

Deno.test("WECOM_GATEWAY_GROUP_COMMIT turns group commit off; it is on by default", async () => {
  await withDir({ "config.yaml": FLAT_YAML }, async (dir) => {
    assert.equal((await loadConfig({ cwd: dir, env: {} })).groupCommit, true);
    for (const off of ["0", "false", "OFF", "no"]) {
      const config = await loadConfig({ cwd: dir, env: { WECOM_GATEWAY_GROUP_COMMIT: off } });
      assert.equal(config.groupCommit, false, off);
    }
    const on = await loadConfig({ cwd: dir, env: { WECOM_GATEWAY_GROUP_COMMIT: "1" } });
    assert.equal(on.groupCommit, true);
    // A value that is neither is reported (it was once read after the problems were collected).
    await assert.rejects(
      loadConfig({ cwd: dir, env: { WECOM_GATEWAY_GROUP_COMMIT: "maybe" } }),
      /group_commit \/ WECOM_GATEWAY_GROUP_COMMIT \(set in the environment\): is "maybe"; it must be true or false/,
    );
  });
});

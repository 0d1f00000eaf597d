// Each class of problem with the gateway-wide settings, through the public loadConfig().
import assert from "node:assert/strict";
import { ConfigError, formatConfigWarning, loadConfig } from "../../src/config/load.ts";
import { validateConfig } from "../../src/config/validate.ts";
import { ENV_APP, loadError, problemLine } from "./load_error.ts";

/** The error of loading `yaml` as config.yaml (none when undefined) with one app in `env`. */
function load(yaml: string | undefined, env: Record<string, string> = {}): Promise<ConfigError> {
  return loadError(yaml === undefined ? {} : { "config.yaml": yaml }, { ...ENV_APP, ...env });
}

Deno.test("port: not an integer, or out of 0..65535; 0 is allowed", async () => {
  const text = problemLine(await load(undefined, { WECOM_CALLBACK_PORT: "http" }), "port");
  assert.match(text, /WECOM_CALLBACK_PORT/);
  assert.match(text, /set in the environment/);
  assert.match(text, /is "http"; it must be a whole number from 0 to 65535/);
  problemLine(await load("platforms: {wecom_callback: {extra: {port: 70000}}}"), "port");
  problemLine(await load("platforms: {wecom_callback: {extra: {port: 80.5}}}"), "port");

  const dir = await Deno.makeTempDir();
  try {
    const config = await loadConfig({ cwd: dir, env: { ...ENV_APP, WECOM_CALLBACK_PORT: "0" } });
    assert.equal(config.port, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("path must start with /", async () => {
  const text = problemLine(
    await load(undefined, { WECOM_CALLBACK_PATH: "wecom/callback" }),
    "path",
  );
  assert.match(text, /does not start with "\/"/);
  assert.match(text, /WECOM_CALLBACK_PATH in the environment/);
});

Deno.test("api_base must be an http(s) URL", async () => {
  const text = problemLine(
    await load(undefined, { WECOM_CALLBACK_API_BASE: "ftp://x" }),
    "api_base",
  );
  assert.match(text, /not an http:\/\/ or https:\/\/ URL/);
});

Deno.test("replay window: negative or not a whole number", async () => {
  problemLine(
    await load(undefined, { WECOM_CALLBACK_REPLAY_WINDOW_SECONDS: "-1" }),
    "replay_window_seconds",
  );
  const text = problemLine(
    await load("platforms: {wecom_callback: {extra: {replay_window_seconds: 2.5}}}"),
    "replay_window_seconds",
  );
  assert.match(text, /set in config\.yaml/);
  assert.match(text, /0 or more/);
});

Deno.test("unknown agent kind", async () => {
  const text = problemLine(await load(undefined, { WECOM_GATEWAY_AGENT: "gpt" }), "agent.kind");
  assert.match(text, /WECOM_GATEWAY_AGENT/);
  assert.match(text, /one of echo, openai, command, http/);
});

Deno.test("openai agent without base_url or model", async () => {
  const error = await load(undefined, { WECOM_GATEWAY_AGENT: "openai" });
  assert.match(problemLine(error, "agent.openai.base_url"), /WECOM_GATEWAY_OPENAI_BASE_URL/);
  assert.match(problemLine(error, "agent.openai.model"), /WECOM_GATEWAY_OPENAI_MODEL/);
});

Deno.test("openai api_key_env naming an unset variable, or holding a key instead of a name", async () => {
  const base = "agent: {kind: openai, openai: {base_url: 'http://127.0.0.1:9/v1', model: m, ";
  const unset = problemLine(await load(base + "api_key_env: MY_KEY}}"), "agent.openai.api_key_env");
  assert.match(unset, /names MY_KEY, which is not set/);
  const key = "sk-abc123-very-secret";
  const error = await load(base + `api_key_env: ${key}}}`);
  assert.match(
    problemLine(error, "agent.openai.api_key_env"),
    /not the name of an environment variable/,
  );
  assert.ok(!error.message.includes(key));
});

Deno.test("command agent without argv", async () => {
  const text = problemLine(await load("agent: {kind: command}"), "agent.command.argv");
  assert.match(text, /WECOM_GATEWAY_COMMAND/);
  assert.match(text, /program/);
});

Deno.test("http agent without url, and invalid header names", async () => {
  const error = await load("agent: {kind: http, http: {headers: {'Bad Header': x}}}");
  assert.match(problemLine(error, "agent.http.url"), /WECOM_GATEWAY_HTTP_URL/);
  assert.match(problemLine(error, "agent.http.headers"), /not valid HTTP/);
});

Deno.test("numbers that must be positive", async () => {
  const yaml = `
agent: {timeout_seconds: 0, workers: 0}
gateway:
  jobs: {concurrency: 0, lease_seconds: -1, max_attempts: 0, poll_ms: 0, working_notice_seconds: -1}
  delivery: {retry_window_minutes: 0, retry_max_backoff_seconds: -5, per_minute: 0, per_hour: 0, request_timeout_seconds: 0}
`;
  const error = await load(yaml);
  for (
    const key of [
      "agent.timeout_seconds",
      "agent.workers",
      "gateway.jobs.concurrency",
      "gateway.jobs.lease_seconds",
      "gateway.jobs.max_attempts",
      "gateway.jobs.poll_ms",
      "gateway.jobs.working_notice_seconds",
      "gateway.delivery.retry_window_minutes",
      "gateway.delivery.retry_max_backoff_seconds",
      "gateway.delivery.per_minute",
      "gateway.delivery.per_hour",
      "gateway.delivery.request_timeout_seconds",
    ]
  ) {
    problemLine(error, key);
  }
  assert.equal(error.problems.length, 12);
  const concurrency = problemLine(
    await load(undefined, { WECOM_GATEWAY_CONCURRENCY: "-2" }),
    "gateway.jobs.concurrency",
  );
  assert.match(concurrency, /WECOM_GATEWAY_CONCURRENCY/);
});

Deno.test("rates above WeCom's per-member limits are refused (WeCom drops the excess)", async () => {
  const error = await load("gateway: {delivery: {per_minute: 60, per_hour: 5000}}");
  assert.match(problemLine(error, "gateway.delivery.per_minute"), /from 1 to 30/);
  assert.match(problemLine(error, "gateway.delivery.per_hour"), /from 1 to 1000/);
});

Deno.test("flags that are neither true nor false", async () => {
  const error = await load(undefined, {
    WECOM_CALLBACK_ALLOW_ALL_USERS: "maybe",
    WECOM_GATEWAY_MARKDOWN: "sometimes",
  });
  assert.match(problemLine(error, "allow_all_users"), /WECOM_CALLBACK_ALLOW_ALL_USERS/);
  assert.match(problemLine(error, "markdown"), /true or false/);
});

Deno.test("allowed_users entries must be user or corp:user", async () => {
  const error = await load(undefined, {
    WECOM_CALLBACK_ALLOWED_USERS: "zhangsan, a:b:c ,ww1:,wwcorp:lisi",
  });
  const text = problemLine(error, "allowed_users");
  assert.match(text, /WECOM_CALLBACK_ALLOWED_USERS/);
  assert.match(text, /entries that are neither user nor corp_id:user: "a:b:c", "ww1:"/);
  const yaml = await load("platforms: {wecom_callback: {extra: {allowed_users: [lisi, 'x y']}}}");
  assert.match(problemLine(yaml, "allowed_users"), /an entry that is neither.*"x y"/);
});

Deno.test("log format must be human or json", async () => {
  assert.match(
    problemLine(await load(undefined, { LOG_FORMAT: "xml" }), "gateway.log_format"),
    /LOG_FORMAT/,
  );
});

Deno.test("platforms.wecom_callback.enabled: false is reported as switched off", async () => {
  const text = problemLine(
    await load("platforms: {wecom_callback: {enabled: false}}"),
    "platforms.wecom_callback.enabled",
  );
  assert.match(text, /switched off/);
  assert.match(text, /enabled to true/);
});

Deno.test("several problems are reported at once, in one error", async () => {
  const yaml = `
platforms:
  wecom_callback:
    extra:
      port: "eighty"
      path: "callback"
agent: {kind: robot}
gateway: {log_format: yaml}
`;
  const error = await load(yaml, { WECOM_CALLBACK_TOKEN: "bad-token!" });
  const keys = error.problems.map((problem) => problem.key).sort();
  assert.deepEqual(keys, ["agent.kind", "gateway.log_format", "path", "port", "token"]);
  const lines = error.message.split("\n");
  assert.match(lines[0], /has 5 problems/);
  assert.equal(lines.filter((l) => l.startsWith("  - ")).length, 5);
});

Deno.test("validateConfig is pure: same input, same result, nothing read", () => {
  const layers = { env: ENV_APP, dotenv: {}, root: {} };
  const first = validateConfig(layers, "/srv/gw");
  const second = validateConfig(layers, "/srv/gw");
  assert.deepEqual(first, second);
  assert.equal(first.config.kvPath, "/srv/gw/data/wecom-gateway.sqlite3");
});

Deno.test("delivery retries: a window in minutes and a back-off cap in seconds; the old max_attempts only warns", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const loadIn = async (yaml: string) => {
      await Deno.writeTextFile(`${dir}/config.yaml`, yaml);
      return await loadConfig({ cwd: dir, env: ENV_APP });
    };
    const defaults = await loadIn("gateway: {}\n");
    assert.equal(defaults.delivery.retryWindowMs, 30 * 60_000);
    assert.equal(defaults.delivery.retryMaxBackoffMs, 5 * 60_000);
    assert.deepEqual(defaults.warnings, []);

    const set = await loadIn(
      "gateway: {delivery: {retry_window_minutes: 90, retry_max_backoff_seconds: 120}}\n",
    );
    assert.equal(set.delivery.retryWindowMs, 90 * 60_000);
    assert.equal(set.delivery.retryMaxBackoffMs, 120_000);

    // An old config still loads: the deprecated key (even with a value that was never valid)
    // is a warning that says what to do, not an error.
    for (const value of ["8", "0", "lots"]) {
      const old = await loadIn(`gateway: {delivery: {max_attempts: ${value}}}\n`);
      assert.equal(old.warnings?.length, 1);
      const text = formatConfigWarning(old.warnings![0]);
      assert.match(text, /^Warning: gateway\.delivery\.max_attempts .*config\.yaml/);
      assert.match(text, /deprecated and ignored/);
      assert.match(
        text,
        /Fix: Remove gateway\.delivery\.max_attempts; set gateway\.delivery\.retry_window_minutes/,
      );
    }

    const long = await loadIn("gateway: {delivery: {retry_window_minutes: 300}}\n");
    assert.equal(long.delivery.retryWindowMs, 300 * 60_000);
    assert.match(formatConfigWarning(long.warnings![0]), /longer than WeCom's duplicate check/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// Each class of problem with a WeCom app's settings, through the public loadConfig():
// the rendered line must name the app, the key (and its variable when one exists) and a fix.
import assert from "node:assert/strict";
import { type ConfigError, formatConfigError } from "../../src/config/load.ts";
import { ENV_APP, loadError } from "./load_error.ts";

const AES_A = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

interface AppEntry {
  name?: unknown;
  corp_id?: unknown;
  corp_secret?: unknown;
  agent_id?: unknown;
  token?: unknown;
  encoding_aes_key?: unknown;
  api_base?: unknown;
}

function entry(overrides: AppEntry = {}): AppEntry {
  return {
    name: "dept-a",
    corp_id: "ww_corp_a",
    corp_secret: "secret-a",
    agent_id: "1000002",
    token: "TokenA",
    encoding_aes_key: AES_A,
    ...overrides,
  };
}

/** YAML for an apps list (JSON is valid YAML). */
function appsYaml(apps: AppEntry[]): string {
  return JSON.stringify({ platforms: { wecom_callback: { extra: { apps } } } }, null, 2);
}

/** The rendered line of the only problem with `key`, checked to name the app, the key and a fix. */
function line(error: ConfigError, app: string, key: string, env?: string): string {
  const lines = formatConfigError(error).split("\n").filter((l) =>
    l.startsWith("  - ") && l.includes(`app "${app}", ${key}`)
  );
  assert.equal(lines.length, 1, `one line for app ${app} key ${key} in:\n${error.message}`);
  const text = lines[0];
  if (env) assert.ok(text.includes(env), `variable ${env} named in: ${text}`);
  assert.match(text, /Fix: \S/);
  return text;
}

Deno.test("missing credentials: each is named with its variable and where to find it", async () => {
  const error = await loadError({}, { WECOM_CALLBACK_CORP_ID: "wwonly" });
  assert.equal(error.noApps, false);
  assert.equal(error.problems.length, 4);
  const secret = line(error, "default", "corp_secret", "WECOM_CALLBACK_CORP_SECRET");
  assert.match(secret, /is missing/);
  assert.match(secret, /App Management/);
  const agent = line(error, "default", "agent_id", "WECOM_CALLBACK_AGENT_ID");
  assert.match(agent, /AgentId/);
  line(error, "default", "token", "WECOM_CALLBACK_TOKEN");
  const aes = line(error, "default", "encoding_aes_key", "WECOM_CALLBACK_ENCODING_AES_KEY");
  assert.match(aes, /EncodingAESKey/);
});

Deno.test("missing credentials in an apps entry point at that entry in config.yaml", async () => {
  const error = await loadError({ "config.yaml": appsYaml([entry({ token: undefined })]) });
  const text = line(error, "dept-a", "token");
  assert.match(text, /apps entry "dept-a" of config\.yaml/);
  assert.ok(!text.includes("WECOM_CALLBACK_TOKEN"), "variables do not set apps entries");
});

Deno.test("encoding_aes_key of the wrong length: its length is given, never its value", async () => {
  const short = AES_A.slice(0, 42);
  const error = await loadError({}, { ...ENV_APP, WECOM_CALLBACK_ENCODING_AES_KEY: short });
  const text = line(error, "default", "encoding_aes_key", "WECOM_CALLBACK_ENCODING_AES_KEY");
  assert.match(text, /has 42 characters; it must have exactly 43/);
  assert.match(text, /set in the environment/);
  assert.ok(!error.message.includes(short));
});

Deno.test("encoding_aes_key with characters other than letters and digits", async () => {
  const padded = AES_A.slice(0, 42) + "=";
  const error = await loadError({ "config.yaml": appsYaml([entry({ encoding_aes_key: padded })]) });
  const text = line(error, "dept-a", "encoding_aes_key");
  assert.match(text, /other than letters and digits/);
  assert.ok(!text.includes("has 43 characters"));
  assert.ok(!error.message.includes(padded));
});

Deno.test("token longer than 32 or with other characters", async () => {
  const long = "T".repeat(33);
  const error = await loadError({}, { ...ENV_APP, WECOM_CALLBACK_TOKEN: long });
  assert.match(line(error, "default", "token", "WECOM_CALLBACK_TOKEN"), /has 33 characters/);
  assert.ok(!error.message.includes(long));

  const dashed = await loadError({ "config.yaml": appsYaml([entry({ token: "token-a" })]) });
  assert.match(line(dashed, "dept-a", "token"), /other than letters and digits/);
});

Deno.test("a token written as a bare YAML number must be quoted", async () => {
  const error = await loadError({ "config.yaml": appsYaml([entry({ token: 12345 })]) });
  assert.match(line(error, "dept-a", "token"), /Put quotes around/);
});

Deno.test("agent_id that is not numeric; numbers and digit strings are accepted", async () => {
  const error = await loadError({}, { ...ENV_APP, WECOM_CALLBACK_AGENT_ID: "10000x2" });
  assert.match(line(error, "default", "agent_id", "WECOM_CALLBACK_AGENT_ID"), /not a number/);

  const negative = await loadError({ "config.yaml": appsYaml([entry({ agent_id: -5 })]) });
  line(negative, "dept-a", "agent_id");
});

Deno.test("corp_id containing whitespace, or empty", async () => {
  const error = await loadError({ "config.yaml": appsYaml([entry({ corp_id: "ww corp" })]) });
  assert.match(line(error, "dept-a", "corp_id"), /whitespace/);

  const empty = await loadError({ "config.yaml": appsYaml([entry({ corp_id: "  " })]) });
  assert.match(line(empty, "dept-a", "corp_id"), /empty/);
});

Deno.test("corp_secret with whitespace is reported by length only", async () => {
  const secret = "abc def SecretWithSpace";
  const error = await loadError({}, { ...ENV_APP, WECOM_CALLBACK_CORP_SECRET: secret });
  const text = line(error, "default", "corp_secret", "WECOM_CALLBACK_CORP_SECRET");
  assert.match(text, /whitespace \(23 characters/);
  assert.ok(!error.message.includes("SecretWithSpace"));
});

Deno.test("app names that cannot be a URL path segment, or no name", async () => {
  const error = await loadError({
    "config.yaml": appsYaml([
      entry({ name: "dept a/1" }),
      entry({ name: undefined, agent_id: "7" }),
    ]),
  });
  const bad = line(error, "dept a/1", "name");
  assert.match(bad, /letters, digits, _ and -/);
  assert.match(bad, /e\.g\. dept-a-1/);
  assert.match(line(error, "apps[1]", "name"), /is missing/);
});

Deno.test("duplicate app names", async () => {
  const error = await loadError({
    "config.yaml": appsYaml([entry(), entry({ corp_id: "ww_other", agent_id: "1000005" })]),
  });
  const text = line(error, "dept-a", "name");
  assert.match(text, /used by 2 apps \(apps entry 1, apps entry 2\)/);
});

Deno.test("two apps with the same corp_id and agent_id", async () => {
  const error = await loadError({
    "config.yaml": appsYaml([entry(), entry({ name: "dept-b", agent_id: 1000002 })]),
  });
  const text = line(error, "dept-a", "corp_id, agent_id");
  assert.match(text, /"dept-a", "dept-b"/);
  assert.match(text, /configured twice/);
});

Deno.test("a per-app api_base that is not an http(s) URL", async () => {
  const error = await loadError({
    "config.yaml": appsYaml([entry({ api_base: "qyapi.weixin.qq.com" })]),
  });
  assert.match(line(error, "dept-a", "api_base"), /not an http:\/\/ or https:\/\/ URL/);
});

Deno.test("flat credentials next to an apps list are reported, not silently ignored", async () => {
  const yaml = JSON.stringify({
    platforms: { wecom_callback: { extra: { corp_id: "wwflat", token: "Flat", apps: [entry()] } } },
  });
  const error = await loadError({ "config.yaml": yaml });
  assert.equal(error.problems.length, 1);
  assert.equal(error.problems[0].key, "corp_id, token");
  assert.match(error.message, /would be ignored/);
});

Deno.test("an apps entry that is not a mapping", async () => {
  const yaml = "platforms:\n  wecom_callback:\n    extra:\n      apps:\n        - dept-a\n";
  const error = await loadError({ "config.yaml": yaml });
  assert.equal(error.noApps, false);
  assert.match(error.message, /app "apps\[0\]", apps .*not a mapping/);
});

// The hermes kind, agent.failure_text, agent.truncation_marker, agent.openai.headers and the
// gateway-only wecom_gateway section, through the public validateConfig()/loadConfig().
import assert from "node:assert/strict";
import { formatConfigError } from "../../src/config/load.ts";
import { FAILURE_TEXT_DEFAULTS } from "../../src/config/validate_agent.ts";
import { ENV_APP, loadError, validated } from "./load_error.ts";

Deno.test("agent.kind hermes: Hermes' defaults, the key from API_SERVER_KEY", () => {
  const { config, problems } = validated({ agent: { kind: "hermes" } }, { API_SERVER_KEY: "k-1" });
  assert.deepEqual(problems, []);
  assert.deepEqual(config.agent.hermes, {
    baseUrl: "http://127.0.0.1:8642/v1",
    apiKey: "k-1",
    apiKeyEnv: "API_SERVER_KEY",
    model: "hermes-agent",
    systemPrompt: "",
    headers: {},
    revealIds: false,
  });
  const custom = validated({
    agent: {
      kind: "hermes",
      hermes: {
        base_url: "http://10.0.0.5:9000/v1/",
        api_key_env: "HERMES_KEY",
        reveal_ids: true,
        headers: { "X-Team": "ops" },
      },
    },
  }, { HERMES_KEY: "k-2", WECOM_GATEWAY_HERMES_URL: "http://127.0.0.1:8650/v1" });
  assert.deepEqual(custom.problems, []);
  assert.equal(custom.config.agent.hermes?.baseUrl, "http://127.0.0.1:8650/v1");
  assert.equal(custom.config.agent.hermes?.apiKey, "k-2");
  assert.equal(custom.config.agent.hermes?.revealIds, true);
  assert.deepEqual(custom.config.agent.hermes?.headers, { "X-Team": "ops" });
});

Deno.test("agent.kind hermes without a key is a problem that names both .env files", async () => {
  const error = await loadError({ "config.yaml": "agent: {kind: hermes}" }, ENV_APP);
  const text = formatConfigError(error);
  assert.match(text, /agent\.hermes\.api_key_env/);
  assert.match(text, /names API_SERVER_KEY, which is not set/);
  assert.match(text, /Set API_SERVER_KEY in Hermes' \$HERMES_HOME\/\.env, and the same value/);
  const typo = validated({ agent: { kind: "hermes", hermes: { base_urll: "x" } } }, {
    API_SERVER_KEY: "k",
  });
  assert.equal(typo.problems.length, 1);
  assert.match(typo.problems[0].key, /agent\.hermes\.base_urll/);
});

Deno.test("agent.failure_text: one text, a zh/en mapping, or a clear problem", () => {
  assert.deepEqual(validated({}).config.agent.failureText, FAILURE_TEXT_DEFAULTS);
  assert.deepEqual(
    validated({ agent: { failure_text: "稍后再试 / try later" } }).config.agent.failureText,
    {
      zh: "稍后再试 / try later",
      en: "稍后再试 / try later",
    },
  );
  assert.deepEqual(
    validated({ agent: { failure_text: { en: "Oops." } } }).config.agent.failureText,
    { zh: FAILURE_TEXT_DEFAULTS.zh, en: "Oops." },
  );
  assert.equal(
    validated({}, { WECOM_GATEWAY_FAILURE_TEXT: "Down for a bit." }).config.agent.failureText?.en,
    "Down for a bit.",
  );
  for (const bad of [{ fr: "Désolé" }, ["a"], "  "]) {
    const { problems } = validated({ agent: { failure_text: bad } });
    assert.equal(problems.length, 1, JSON.stringify(bad));
    assert.match(problems[0].message, /neither a short text nor a mapping of zh and en/);
  }
});

Deno.test("agent.truncation_marker and agent.openai.headers are read; a bad header name is reported", () => {
  const { config, problems } = validated({
    agent: {
      truncation_marker: " …",
      openai: { headers: { "X-Org": "acme" } },
    },
  });
  assert.deepEqual(problems, []);
  assert.equal(config.agent.truncationMarker, " …");
  assert.deepEqual(config.agent.openai.headers, { "X-Org": "acme" });
  const bad = validated({ agent: { openai: { headers: { "bad name": "x" } } } });
  assert.equal(bad.problems.length, 1);
  assert.match(bad.problems[0].message, /not valid HTTP/);
});

Deno.test("wecom_gateway: a section only the gateway reads, so Hermes can share config.yaml", () => {
  const shared = {
    // Hermes' own WeCom adapter stays off in the shared file…
    platforms: { wecom_callback: { enabled: false, extra: { port: 9999 } } },
    // …and the gateway reads its section instead.
    wecom_gateway: { enabled: true, extra: { port: 8645, allowed_users: "zhangsan" } },
  };
  const { config, problems } = validated(shared);
  assert.deepEqual(problems, []);
  assert.equal(config.port, 8645);
  assert.deepEqual(config.access.allowedUsers, ["zhangsan"]);
  // The control: without wecom_gateway, the disabled platforms section is reported.
  const alone = validated({ platforms: shared.platforms });
  assert.ok(alone.problems.some((p) => p.key === "platforms.wecom_callback.enabled"));
  assert.equal(alone.config.port, 9999);
});

Deno.test("agent.worker_idle_seconds: 60 s by default, 0 keeps workers, a negative value is refused", () => {
  assert.equal(validated({}).config.agent.workerIdleMs, 60_000);
  assert.equal(validated({ agent: { worker_idle_seconds: 0 } }).config.agent.workerIdleMs, 0);
  assert.equal(validated({ agent: { worker_idle_seconds: 2.5 } }).config.agent.workerIdleMs, 2500);
  const { problems } = validated({ agent: { worker_idle_seconds: -1 } });
  assert.equal(problems.length, 1);
  assert.equal(problems[0].key, "agent.worker_idle_seconds");
});

import assert from "node:assert/strict";
import { checkNames } from "../../src/config/unknown_keys.ts";
import type { Layers } from "../../src/config/layers.ts";

function yaml(root: Record<string, unknown>): Layers {
  return { env: {}, dotenv: {}, root };
}

function extra(keys: Record<string, unknown>): Layers {
  return yaml({ platforms: { wecom_callback: { extra: keys } } });
}

Deno.test("misspelt keys under extra get a did-you-mean", () => {
  const problems = checkNames(extra({
    encoding_aes_kye: "x",
    prot: 80,
    corpId: "ww",
    aes_key: "x",
    allowed_user: "a",
  }));
  assert.deepEqual(
    problems.map((p) => [p.key, p.fix]),
    [
      ["encoding_aes_kye", "Rename it to encoding_aes_key."],
      ["prot", "Rename it to port."],
      ["corpId", "Rename it to corp_id."],
      ["aes_key", "Rename it to encoding_aes_key."],
      ["allowed_user", "Rename it to allowed_users."],
    ],
  );
  assert.ok(problems.every((p) => p.from === "config.yaml" && p.message.includes("ignored")));
});

Deno.test("an unknown key that is not close to any is still reported under extra, with the list", () => {
  const [problem] = checkNames(extra({ colour: "blue" }));
  assert.equal(problem.key, "colour");
  assert.match(problem.fix, /one of: name, corp_id/);
});

Deno.test("a key of another section is pointed to its home", () => {
  const [problem] = checkNames(extra({ kv: ":memory:" }));
  assert.equal(problem.key, "kv");
  assert.match(problem.message, /belongs at gateway\.kv/);
});

Deno.test("keys in apps entries: typos, and gateway-wide keys set per app", () => {
  const problems = checkNames(extra({
    apps: [{ name: "dept-a", agentid: 1, port: 80 }, { tokne: "x" }],
  }));
  assert.deepEqual(problems.map((p) => [p.app, p.key]), [
    ["dept-a", "agentid"],
    ["dept-a", "port"],
    ["apps[1]", "tokne"],
  ]);
  assert.match(problems[0].fix, /agent_id/);
  assert.match(problems[1].fix, /directly under platforms\.wecom_callback\.extra/);
  assert.match(problems[2].fix, /token/);
});

Deno.test("our own sub-sections are strict; agent: and gateway: tolerate Hermes's keys", () => {
  const problems = checkNames(yaml({
    agent: {
      max_turns: 90,
      reasoning_effort: "high",
      timout_seconds: 5,
      openai: { modle: "m", temperature: 0.2 },
    },
    gateway: { multiplex_profiles: true, jobs: { concurency: 2 }, delivery: { retries: 3 } },
    platforms: {
      telegram: { enabled: true },
      wecom_callback: { enabled: true, home_channel: "x", extras: {} },
    },
    model: "anthropic/claude",
  }));
  assert.deepEqual(problems.map((p) => p.key), [
    "platforms.wecom_callback.extras",
    "agent.timout_seconds",
    "agent.openai.modle",
    "agent.openai.temperature",
    "gateway.jobs.concurency",
    "gateway.delivery.retries",
  ]);
  assert.match(problems[0].message, /Did you mean platforms\.wecom_callback\.extra\?/);
});

Deno.test("sections that are not mappings", () => {
  const problems = checkNames(yaml({
    platforms: { wecom_callback: { extra: "corp_id=ww" } },
    agent: { openai: "gpt" },
    gateway: ["kv"],
  }));
  assert.deepEqual(problems.map((p) => p.key), [
    "platforms.wecom_callback.extra",
    "agent.openai",
    "gateway",
  ]);
  assert.ok(problems.every((p) => p.message === "is not a mapping of keys."));
});

Deno.test("wecom_callback nested under gateway.platforms is pointed out", () => {
  const problems = checkNames(yaml({ gateway: { platforms: { wecom_callback: { extra: {} } } } }));
  assert.equal(problems.length, 1);
  assert.match(problems[0].fix, /platforms\.wecom_callback/);
});

Deno.test("misspelt variables are reported with their source; unrelated ones are left alone", () => {
  const problems = checkNames({
    env: {
      WECOM_CALLBACK_AES_KEY: "x",
      WECOM_CALLBACK_PROT: "1",
      WECOM_CALLBACK_URL: "https://example.com/cb", // another tool's variable
      WECOM_GATEWAY_PORT: "1",
      PATH: "/usr/bin",
    },
    dotenv: { WECOM_CALLBACK_CORPID: "ww", WECOM_GATEWAY_CONCURRENCY: "2" },
    root: {},
  });
  assert.deepEqual(problems.map((p) => [p.key, p.from, p.fix]), [
    ["WECOM_CALLBACK_AES_KEY", "environment", "Rename it to WECOM_CALLBACK_ENCODING_AES_KEY."],
    ["WECOM_CALLBACK_PROT", "environment", "Rename it to WECOM_CALLBACK_PORT."],
    ["WECOM_GATEWAY_PORT", "environment", "Rename it to WECOM_CALLBACK_PORT."],
    ["WECOM_CALLBACK_CORPID", ".env", "Rename it to WECOM_CALLBACK_CORP_ID."],
  ]);
});

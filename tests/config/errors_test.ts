import assert from "node:assert/strict";
import { formatConfigError } from "../../src/config/load.ts";
import { loadError } from "./load_error.ts";

const VARIABLES = [
  "WECOM_CALLBACK_CORP_ID",
  "WECOM_CALLBACK_CORP_SECRET",
  "WECOM_CALLBACK_AGENT_ID",
  "WECOM_CALLBACK_TOKEN",
  "WECOM_CALLBACK_ENCODING_AES_KEY",
];

Deno.test("no app at all: noApps, and the message lists the five variables and where to find them", async () => {
  const error = await loadError({}, {});
  assert.equal(error.noApps, true);
  assert.equal(error.problems.length, 1);
  const text = formatConfigError(error);
  for (const name of VARIABLES) {
    const row = text.split("\n").find((l) => l.trimStart().startsWith(name));
    assert.ok(row, `a line for ${name} in:\n${text}`);
  }
  for (const key of ["corp_id", "corp_secret", "agent_id", "token", "encoding_aes_key"]) {
    assert.ok(text.includes(key), key);
  }
  assert.match(text, /My Company/);
  assert.match(text, /App Management/);
  assert.match(text, /Receive Messages/);
  assert.match(text, /43 characters/);
  assert.match(text, /platforms\.wecom_callback\.extra/);
  // The problem itself also says what to set, for callers that do not format it.
  assert.ok(VARIABLES.every((name) => error.problems[0].fix.includes(name)));
  assert.equal(error.message, text);
});

Deno.test("no app, but with other problems: all are listed with the guide", async () => {
  const error = await loadError({}, { WECOM_CALLBACK_PORT: "x", WECOM_GATEWAY_AGENT: "nope" });
  assert.equal(error.noApps, true);
  assert.equal(error.problems.length, 3);
  const text = formatConfigError(error);
  assert.match(text, /has 3 problems/);
  assert.match(text, /port \/ WECOM_CALLBACK_PORT/);
  assert.match(text, /agent\.kind \/ WECOM_GATEWAY_AGENT/);
  assert.match(text, /No WeCom app is configured/);
});

Deno.test("an empty apps list with nothing else counts as no app", async () => {
  const error = await loadError(
    { "config.yaml": "platforms: {wecom_callback: {extra: {apps: []}}}" },
    {},
  );
  assert.equal(error.noApps, true);
});

Deno.test("one line per problem: summary first, then app, key, variable, source, fix", async () => {
  const error = await loadError({}, {
    WECOM_CALLBACK_CORP_ID: "ww1",
    WECOM_CALLBACK_CORP_SECRET: "s",
    WECOM_CALLBACK_AGENT_ID: "abc",
    WECOM_CALLBACK_TOKEN: "tok",
    WECOM_CALLBACK_ENCODING_AES_KEY: "short",
  });
  const lines = formatConfigError(error).split("\n");
  assert.equal(lines.length, 3);
  assert.match(lines[0], /^Cannot start wecom-gateway: the configuration has 2 problems/);
  assert.match(
    lines[1],
    /^ {2}- app "default", agent_id \/ WECOM_CALLBACK_AGENT_ID \(set in the environment\): .+ Fix: .+/,
  );
  assert.match(
    lines[2],
    /^ {2}- app "default", encoding_aes_key \/ WECOM_CALLBACK_ENCODING_AES_KEY/,
  );
  assert.deepEqual(error.problems.map((p) => [p.app, p.key, p.env, p.from]), [
    ["default", "agent_id", "WECOM_CALLBACK_AGENT_ID", "environment"],
    ["default", "encoding_aes_key", "WECOM_CALLBACK_ENCODING_AES_KEY", "environment"],
  ]);
});

Deno.test("no secret value appears in any error message", async () => {
  const secrets = {
    corpSecret: "Corp Secret ZX81", // whitespace: reported
    token: "TokSecretZX82-with-dash-and-far-too-long",
    aesKey: "AesSecretZX83=",
    flatSecret: "FlatSecretZX84",
    typoKey: "TypoSecretZX85",
    pasted: "PastedSecretZX86",
    envTypo: "EnvTypoSecretZX87",
    apiKey: "sk-ApiKeySecretZX88",
    header: "Bearer HeaderSecretZX89",
    dotenvToken: "DotenvSecretZX90!",
    yamlLine: "YamlLineSecretZX91",
  };
  const yaml = `
platforms:
  wecom_callback:
    extra:
      corp_secret: "${secrets.flatSecret}"
      apps:
        - name: dept-a
          corp_id: ww_a
          corp_secrte: "${secrets.typoKey}"
          agent_id: "${secrets.pasted}"
          token: "${secrets.token}"
          encoding_aes_key: "${secrets.aesKey}"
agent:
  kind: openai
  openai:
    api_key_env: "${secrets.apiKey}"
  http:
    headers:
      "Bad Name": "${secrets.header}"
`;
  const env = {
    WECOM_CALLBACK_CORP_ID: "ww_env",
    WECOM_CALLBACK_CORP_SECRET: secrets.corpSecret,
    WECOM_CALLBACK_SECRET: secrets.envTypo,
  };
  const dotenv = `WECOM_CALLBACK_TOKEN=${secrets.dotenvToken}\n`;
  const error = await loadError({ "config.yaml": yaml, ".env": dotenv }, env);
  assert.ok(error.problems.length >= 10, error.message);
  const everything = [error.message, formatConfigError(error), JSON.stringify(error.problems)].join(
    "\n",
  );
  for (const [name, secret] of Object.entries(secrets)) {
    const probe = secret.replace(/^(Bearer |sk-)/, "");
    assert.ok(!everything.includes(probe), `secret ${name} leaked:\n${everything}`);
  }
  // ...while the problems are still all there, named by key.
  const keys = error.problems.map((p) => `${p.app ?? ""}/${p.key}`);
  for (
    const expected of [
      "dept-a/corp_secrte",
      "dept-a/agent_id",
      "dept-a/token",
      "dept-a/encoding_aes_key",
      "/WECOM_CALLBACK_SECRET",
      "/agent.openai.api_key_env",
      "/agent.http.headers",
      "default/corp_secret",
      "default/token",
    ]
  ) {
    assert.ok(keys.includes(expected), `${expected} in ${keys.join(", ")}`);
  }

  // A YAML syntax error next to a secret does not quote the line either.
  const broken = await loadError({
    "config.yaml": `a:\n  b: ${secrets.yamlLine}\n c: [\n`,
  }, {});
  assert.ok(!broken.message.includes(secrets.yamlLine), broken.message);
});

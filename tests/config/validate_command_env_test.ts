// agent.command.env: which variables the command agent's program gets.
import assert from "node:assert/strict";
import { validated } from "./load_error.ts";

function validate(env: unknown, vars: Record<string, string> = {}) {
  const command = env === undefined ? { argv: ["hermes"] } : { argv: ["hermes"], env };
  return validated({ agent: { kind: "command", command } }, vars);
}

Deno.test("agent.command.env: absent means nothing beyond the base, and no problem", () => {
  const { config, problems } = validate(undefined);
  assert.deepEqual(problems, []);
  assert.equal(config.agent.command.passEnv, undefined);
  assert.equal(config.agent.command.env, undefined);
});

Deno.test("agent.command.env: a list names variables passed on from the gateway's environment", () => {
  const { config, problems } = validate(["HERMES_HOME", "ANTHROPIC_API_KEY", "HERMES_HOME"]);
  assert.deepEqual(problems, []);
  assert.deepEqual(config.agent.command.passEnv, ["HERMES_HOME", "ANTHROPIC_API_KEY"]);
});

Deno.test("agent.command.env: a mapping sets values; a name without a value is passed on", () => {
  const { config, problems } = validate({ TZ: "Asia/Shanghai", RETRIES: 3, HERMES_HOME: null });
  assert.deepEqual(problems, []);
  assert.deepEqual(config.agent.command.env, { TZ: "Asia/Shanghai", RETRIES: "3" });
  assert.deepEqual(config.agent.command.passEnv, ["HERMES_HOME"]);
});

Deno.test("agent.command.env: WECOM_GATEWAY_COMMAND_ENV lists names, by commas or spaces", () => {
  const { config, problems } = validate(undefined, {
    WECOM_GATEWAY_COMMAND_ENV: "HERMES_HOME, OPENAI_API_KEY  LANGUAGE",
  });
  assert.deepEqual(problems, []);
  assert.deepEqual(config.agent.command.passEnv, ["HERMES_HOME", "OPENAI_API_KEY", "LANGUAGE"]);
});

Deno.test("agent.command.env: invalid names and values are reported with the fix", () => {
  for (const bad of [["HERMES-HOME"], ["1ST"], { "A B": "x" }, { NESTED: { a: 1 } }, 42]) {
    const { problems } = validate(bad);
    assert.equal(problems.length, 1, JSON.stringify(bad));
    assert.equal(problems[0].key, "agent.command.env");
    assert.ok(problems[0].fix.length > 0);
  }
  const { problems } = validate(["HERMES-HOME"]);
  assert.match(problems[0].message, /"HERMES-HOME".*not a valid environment variable name/);
});

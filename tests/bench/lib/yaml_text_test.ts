import assert from "node:assert/strict";
import { parse } from "yaml";
import { blockYaml } from "../../../bench/lib/yaml_text.ts";
import { appsConfigFile, benchApps } from "../../../bench/lib/callbacks.ts";
import { parseYamlSubset } from "../../../src/config/yaml_subset.ts";

Deno.test("bench config: block YAML that npm:yaml and the gateway's own reader both read back as written", () => {
  const text = appsConfigFile(benchApps(3), {
    apiBase: "http://127.0.0.1:9/",
    extra: { replay_window_seconds: 3600, allowed_users: [], welcome_text: '你好\n"hi"' },
    top: {
      agent: { kind: "echo", headers: {}, command: { argv: ["a b", "{message}"] } },
      gateway: { jobs: { concurrency: 4 }, kv: ":memory:", group_commit: true, http: null },
    },
  });
  const written = JSON.parse(JSON.stringify(parse(text)));
  assert.equal(written.platforms.wecom_callback.extra.apps.length, 3);
  assert.deepEqual(parseYamlSubset(text)?.value, parse(text), "read without loading npm:yaml");
  assert.equal(written.platforms.wecom_callback.extra.welcome_text, '你好\n"hi"');
  assert.deepEqual(written.agent.command.argv, ["a b", "{message}"]);
  assert.equal(written.gateway.http, null);
});

Deno.test("bench config: lists of lists and odd keys are written readably; non-finite numbers are refused", () => {
  const value = { "odd key": [[1, 2], [], { a: [true, null] }], n: -0.5, true: 1, null: "x" };
  assert.deepEqual(parse(blockYaml(value)), value);
  assert.deepEqual(
    parseYamlSubset(blockYaml(value))?.value,
    value,
    "quoted keys keep the own reader",
  );
  assert.deepEqual(parse(blockYaml({ list: [1, undefined] })), { list: [1, null] });
  assert.throws(() => blockYaml({ n: Infinity }), /only finite numbers are written/);
});

// gateway.http (connection bounds) and gateway.kv_check_seconds, through the public loadConfig().
import assert from "node:assert/strict";
import { formatConfigError } from "../../src/config/load.ts";
import { ENV_APP, loaded, loadError, problemLine } from "./load_error.ts";
import { defaultHttpConfig } from "../../src/config/validate_http.ts";

Deno.test("gateway.http defaults: 60 s idle, 5 s header, 1024 connections, the front on; KV check 2 s", async () => {
  const config = await loaded({});
  assert.deepEqual(config.http, {
    idleTimeoutMs: 60_000,
    headerTimeoutMs: 5_000,
    maxConnections: 1024,
    front: true,
  });
  assert.deepEqual(defaultHttpConfig(), config.http);
  assert.equal(config.kvCheckMs, 2000);
});

Deno.test("gateway.http from config.yaml, overridden by WECOM_GATEWAY_HTTP_* variables", async () => {
  const yaml = "gateway:\n  kv_check_seconds: 0\n  http:\n    idle_timeout_seconds: 30\n" +
    "    header_timeout_seconds: 2.5\n    max_connections: 200\n    front: false\n";
  const fromFile = await loaded({}, yaml);
  assert.deepEqual(fromFile.http, {
    idleTimeoutMs: 30_000,
    headerTimeoutMs: 2_500,
    maxConnections: 200,
    front: false,
  });
  assert.equal(fromFile.kvCheckMs, 0);
  const fromEnv = await loaded({
    WECOM_GATEWAY_HTTP_IDLE_TIMEOUT_SECONDS: "45",
    WECOM_GATEWAY_HTTP_HEADER_TIMEOUT_SECONDS: "3",
    WECOM_GATEWAY_HTTP_MAX_CONNECTIONS: "64",
    WECOM_GATEWAY_HTTP_FRONT: "true",
    WECOM_GATEWAY_KV_CHECK_SECONDS: "0.5",
  }, yaml);
  assert.deepEqual(fromEnv.http, {
    idleTimeoutMs: 45_000,
    headerTimeoutMs: 3_000,
    maxConnections: 64,
    front: true,
  });
  assert.equal(fromEnv.kvCheckMs, 500);
});

Deno.test("gateway.http: zero or negative timeouts, a tiny cap and a non-boolean front are refused", async () => {
  const error = await loadError({}, {
    ...ENV_APP,
    WECOM_GATEWAY_HTTP_IDLE_TIMEOUT_SECONDS: "0",
    WECOM_GATEWAY_HTTP_HEADER_TIMEOUT_SECONDS: "-1",
    WECOM_GATEWAY_HTTP_MAX_CONNECTIONS: "2",
    WECOM_GATEWAY_HTTP_FRONT: "maybe",
    WECOM_GATEWAY_KV_CHECK_SECONDS: "soon",
  });
  assert.match(
    problemLine(error, "gateway.http.idle_timeout_seconds"),
    /WECOM_GATEWAY_HTTP_IDLE_TIMEOUT_SECONDS/,
  );
  problemLine(error, "gateway.http.header_timeout_seconds");
  assert.match(problemLine(error, "gateway.http.max_connections"), /at least 8/);
  problemLine(error, "gateway.http.front");
  problemLine(error, "gateway.kv_check_seconds");
});

Deno.test("a misspelt gateway.http key is reported with the right name", async () => {
  const error = await loadError({
    "config.yaml": "gateway:\n  http:\n    idle_timeout_second: 30\n",
  }, ENV_APP);
  assert.match(formatConfigError(error), /idle_timeout_seconds/);
});

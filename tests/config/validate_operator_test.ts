// The operator listener's settings (gateway.operator), through the public loadConfig().
import assert from "node:assert/strict";
import { formatConfigError } from "../../src/config/load.ts";
import { isLoopbackHost } from "../../src/config/validate_operator.ts";
import { ENV_APP, loaded, loadError } from "./load_error.ts";

Deno.test("operator listener: loopback 127.0.0.1:8646 by default, no token", async () => {
  const config = await loaded({});
  assert.deepEqual(config.operator, { host: "127.0.0.1", port: 8646, token: "" });
});

Deno.test("operator listener: port 0 turns it off; host, port and token from the environment or config.yaml", async () => {
  assert.equal((await loaded({ WECOM_GATEWAY_OPERATOR_PORT: "0" })).operator, undefined);
  const fromEnv = await loaded({
    WECOM_GATEWAY_OPERATOR_HOST: "0.0.0.0",
    WECOM_GATEWAY_OPERATOR_PORT: "9100",
    WECOM_GATEWAY_OPERATOR_TOKEN: "a-long-operator-token-0123",
  });
  assert.deepEqual(fromEnv.operator, {
    host: "0.0.0.0",
    port: 9100,
    token: "a-long-operator-token-0123",
  });
  const fromYaml = await loaded(
    {},
    "gateway:\n  operator:\n    host: 127.0.0.2\n    port: 9101\n",
  );
  assert.deepEqual(fromYaml.operator, { host: "127.0.0.2", port: 9101, token: "" });
});

Deno.test("operator listener: a non-loopback host without a token is refused in one line naming the fix", async () => {
  const error = await loadError({}, { ...ENV_APP, WECOM_GATEWAY_OPERATOR_HOST: "0.0.0.0" });
  const lines = formatConfigError(error).split("\n").filter((l) => l.includes("operator"));
  assert.equal(lines.length, 1, error.message);
  assert.match(lines[0], /gateway\.operator\.host/);
  assert.match(lines[0], /is 0\.0\.0\.0, not a loopback address, and no bearer token is set/);
  assert.match(
    lines[0],
    /Fix: Set gateway\.operator\.token in config\.yaml \(or WECOM_GATEWAY_OPERATOR_TOKEN\)/,
  );
});

Deno.test("operator listener: a short token, a bad port or host are refused", async () => {
  const short = await loadError({}, { ...ENV_APP, WECOM_GATEWAY_OPERATOR_TOKEN: "short" });
  assert.match(short.message, /WECOM_GATEWAY_OPERATOR_TOKEN.*5 characters long.*at least 16/s);
  assert.ok(!short.message.includes('short"'), "the token itself is not quoted");
  const port = await loadError({}, { ...ENV_APP, WECOM_GATEWAY_OPERATOR_PORT: "70000" });
  assert.match(port.message, /WECOM_GATEWAY_OPERATOR_PORT/);
  const host = await loadError({}, { ...ENV_APP, WECOM_GATEWAY_OPERATOR_HOST: "a b" });
  assert.match(host.message, /WECOM_GATEWAY_OPERATOR_HOST.*is not a host name/s);
});

Deno.test("operator listener: a typo in gateway.operator is reported", async () => {
  const error = await loadError(
    { "config.yaml": "gateway:\n  operator:\n    tokn: x\n" },
    ENV_APP,
  );
  assert.match(error.message, /tokn/);
});

Deno.test("isLoopbackHost: 127.0.0.0/8, ::1 and localhost only", () => {
  for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"]) {
    assert.ok(isLoopbackHost(host), host);
  }
  for (
    const host of ["0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "localhost.example.com", "1270.0.0.1"]
  ) {
    assert.ok(!isLoopbackHost(host), host);
  }
});

import { equal, match } from "node:assert/strict";
import { runCli, workdir } from "./run_cli.ts";

const APP = {
  WECOM_CALLBACK_CORP_ID: "ww0123456789abcdef",
  WECOM_CALLBACK_CORP_SECRET: "secret-secret",
  WECOM_CALLBACK_AGENT_ID: "1000002",
  WECOM_CALLBACK_TOKEN: "tok",
  WECOM_CALLBACK_ENCODING_AES_KEY: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq",
  WECOM_CALLBACK_HOST: "127.0.0.1",
  WECOM_CALLBACK_PORT: "0",
  WECOM_GATEWAY_KV: ":memory:",
};

Deno.test("serve: an operator port in use stops the start with one line naming the fix (exit 1)", async () => {
  using blocker = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dir = await workdir();
  try {
    const result = await runCli(["serve"], {
      env: { ...APP, WECOM_GATEWAY_OPERATOR_PORT: String(blocker.addr.port) },
      cwd: dir,
    });
    equal(result.code, 1, result.stderr);
    const lines = result.stderr.trim().split("\n");
    equal(lines.length, 1, result.stderr);
    match(
      lines[0],
      new RegExp(`^Cannot listen for operators on 127\\.0\\.0\\.1:${blocker.addr.port}: `),
    );
    match(lines[0], /Set gateway\.operator\.port \(WECOM_GATEWAY_OPERATOR_PORT\) to a free port/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve: a non-loopback operator host without a token is refused before anything starts (exit 2)", async () => {
  const dir = await workdir();
  try {
    const result = await runCli(["serve"], {
      env: { ...APP, WECOM_GATEWAY_OPERATOR_HOST: "0.0.0.0", WECOM_GATEWAY_OPERATOR_PORT: "8646" },
      cwd: dir,
    });
    equal(result.code, 2, result.stderr);
    match(result.stderr, /gateway\.operator\.host .*is 0\.0\.0\.0, not a loopback address/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

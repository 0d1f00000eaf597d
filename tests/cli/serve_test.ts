import assert from "node:assert/strict";
import { FAKE_APP } from "../../src/simulator/wecom_api.ts";
import { startGatewayProcess } from "../e2e/lib/gateway_process.ts";
import { readLines } from "../../src/cli/demo_interactive.ts";
import { runCli, spawnCli, workdir } from "./run_cli.ts";

/** One configured app, KV in `dir`, listening on 127.0.0.1:`port`. */
function appEnv(dir: string, port: number, overrides: Record<string, string> = {}) {
  return {
    WECOM_CALLBACK_CORP_ID: FAKE_APP.corpId,
    WECOM_CALLBACK_CORP_SECRET: FAKE_APP.corpSecret,
    WECOM_CALLBACK_AGENT_ID: FAKE_APP.agentId,
    WECOM_CALLBACK_TOKEN: "ServeToken0123456789abcdefXYZ",
    WECOM_CALLBACK_ENCODING_AES_KEY: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    WECOM_CALLBACK_API_BASE: "http://127.0.0.1:9",
    WECOM_CALLBACK_ALLOWED_USERS: "lisi",
    WECOM_CALLBACK_HOST: "127.0.0.1",
    WECOM_CALLBACK_PORT: String(port),
    WECOM_GATEWAY_KV: `${dir}/data/kv.sqlite3`,
    ...overrides,
  };
}

/** Asserts a start-up failure: exit 2, one line on stderr matching `expected`, no stack trace. */
function assertOneLine(result: { code: number; stdout: string; stderr: string }, expected: RegExp) {
  assert.equal(result.code, 2, result.stdout + result.stderr);
  const lines = result.stderr.trim().split("\n");
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0], expected);
  assert.ok(
    !/^\s+at /m.test(result.stderr) && !/error: Uncaught/.test(result.stderr),
    result.stderr,
  );
  assert.ok(!result.stdout.includes("wecom-gateway running"), result.stdout);
}

Deno.test("serve: a port in use is one line naming the port and the fix, exit 2", async () => {
  const dir = await workdir();
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (taken.addr as Deno.NetAddr).port;
    const result = await runCli(["serve"], { env: appEnv(dir, port), cwd: dir });
    assertOneLine(
      result,
      new RegExp(
        `^Cannot start wecom-gateway as port ${port} is already in use .*WECOM_CALLBACK_PORT`,
      ),
    );
    // Nothing was left behind: the lock beside the KV file is gone.
    await Deno.stat(`${dir}/data/kv.sqlite3.lock`).then(
      () => assert.ok(false, "the lock file was left behind"),
      (error) => assert.ok(error instanceof Deno.errors.NotFound),
    );
  } finally {
    taken.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve: a bind host that is not on this machine is one line naming it, exit 2", async () => {
  const dir = await workdir();
  try {
    // 192.0.2.1 is reserved for documentation (TEST-NET-1): no machine has it. Binding sends nothing.
    const result = await runCli(["serve"], {
      env: appEnv(dir, 0, { WECOM_CALLBACK_HOST: "192.0.2.1" }),
      cwd: dir,
    });
    assertOneLine(
      result,
      /^Cannot start wecom-gateway as '192\.0\.2\.1' is not an address of this machine .*0\.0\.0\.0/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve: a KV path that cannot be opened is one line naming it and the fix, exit 2", async () => {
  const dir = await workdir({ "not-a-folder": "a file where a folder should be" });
  try {
    const result = await runCli(["serve"], {
      env: appEnv(dir, 0, { WECOM_GATEWAY_KV: `${dir}/not-a-folder/kv.sqlite3` }),
      cwd: dir,
    });
    assertOneLine(
      result,
      /^Cannot open Deno KV at '.*not-a-folder\/kv\.sqlite3': .*WECOM_GATEWAY_KV/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve: a second gateway on the KV file of a running one is refused; a worker may join; after it stops the file is free", async () => {
  const dir = await workdir();
  const env = appEnv(dir, 0);
  const first = await startGatewayProcess({ env, cwd: dir, name: "first" });
  try {
    const second = await runCli(["serve"], { env, cwd: dir });
    assertOneLine(
      second,
      new RegExp(
        `^Cannot start wecom-gateway as another gateway \\(pid ${first.pid}\\) already serves ` +
          "callbacks from the KV file .*kv\\.sqlite3\\. .*--role worker",
      ),
    );
    const worker = await startGatewayProcess({ env, cwd: dir, role: "worker", name: "worker" });
    assert.equal((await worker.stop()).code, 0, worker.output());
  } finally {
    assert.equal((await first.stop()).code, 0, first.output());
  }
  try {
    // The lock went with the first gateway: a new one starts.
    const again = await startGatewayProcess({ env, cwd: dir, name: "again" });
    assert.equal((await again.stop()).code, 0, again.output());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve in demo mode (no app configured): a port in use is one line too, exit 2", async () => {
  const dir = await workdir();
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (taken.addr as Deno.NetAddr).port;
    const result = await runCli(["serve"], {
      env: { WECOM_CALLBACK_HOST: "127.0.0.1", WECOM_CALLBACK_PORT: String(port) },
      cwd: dir,
    });
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stdout, /Starting in demo mode/);
    const last = result.stderr.trim().split("\n").at(-1)!;
    assert.match(last, new RegExp(`^Cannot start wecom-gateway as port ${port} is already in use`));
    assert.ok(!/^\s+at /m.test(result.stderr), result.stderr);
  } finally {
    taken.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Kills `child` if it is still running after `ms` (its output then ends, and so does a wait on it). */
function killAfter(child: Deno.ChildProcess, ms: number): ReturnType<typeof setTimeout> {
  return setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // exited
    }
  }, ms);
}

Deno.test("serve in demo mode with LOG_FORMAT=json: stdout is JSON lines too", async () => {
  const dir = await workdir();
  const child = spawnCli(["serve"], {
    env: { LOG_FORMAT: "json", WECOM_CALLBACK_HOST: "127.0.0.1", WECOM_CALLBACK_PORT: "0" },
    cwd: dir,
  });
  const stderr = new Response(child.stderr).text();
  const timer = killAfter(child, 20_000);
  const seen: string[] = [];
  try {
    for await (const line of readLines(child.stdout)) {
      seen.push(line);
      if (line.includes("Configure a real app")) break;
    }
    assert.ok(seen.some((line) => line.includes("DEMO MODE")), seen.join("\n"));
    for (const line of seen) {
      const parsed = JSON.parse(line); // throws on a line that is not JSON
      assert.equal(typeof parsed.msg, "string", line);
    }
  } finally {
    clearTimeout(timer);
    try {
      child.kill("SIGTERM");
    } catch {
      // exited
    }
    await child.status;
    await stderr;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve with LOG_FORMAT=json (from .env): every line on stdout is JSON, the banner included", async () => {
  const dir = await workdir({ ".env": "LOG_FORMAT=json\n" });
  const child = spawnCli(["serve"], { env: appEnv(dir, 0), cwd: dir });
  const stderr = new Response(child.stderr).text();
  const timer = killAfter(child, 20_000);
  const seen: string[] = [];
  try {
    let banner: Record<string, unknown> | undefined;
    for await (const line of readLines(child.stdout)) {
      seen.push(line);
      const parsed = JSON.parse(line); // throws on a line that is not JSON
      if (banner || parsed.msg !== "wecom-gateway running") continue;
      banner = parsed;
      assert.equal(parsed.role, "all");
      assert.equal(parsed.agent, "echo");
      const health = await fetch(parsed.health as string);
      assert.equal((await health.json()).status, "ok");
      child.kill("SIGTERM");
    }
    assert.ok(banner, `no banner line; stdout:\n${seen.join("\n")}`);
    assert.equal((await child.status).code, 0, await stderr);
    assert.ok(seen.length >= 3, seen.join("\n")); // the banner, stopping, stopped
    for (const line of seen) {
      const parsed = JSON.parse(line);
      assert.ok(typeof parsed.msg === "string" && typeof parsed.time === "string", line);
    }
  } finally {
    clearTimeout(timer);
    try {
      child.kill("SIGKILL");
    } catch {
      // exited
    }
    await child.status;
    await stderr;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve: an operator port in use is one line naming the fix, exit 2", async () => {
  using blocker = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dir = await workdir();
  try {
    const result = await runCli(["serve"], {
      env: appEnv(dir, 0, { WECOM_GATEWAY_OPERATOR_PORT: String(blocker.addr.port) }),
      cwd: dir,
    });
    assertOneLine(
      result,
      new RegExp(
        `^Cannot listen for operators on 127\\.0\\.0\\.1:${blocker.addr.port}: .*` +
          "Set gateway\\.operator\\.port \\(WECOM_GATEWAY_OPERATOR_PORT\\) to a free port",
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve: a non-loopback operator host without a token is refused before anything starts (exit 2)", async () => {
  const dir = await workdir();
  try {
    const result = await runCli(["serve"], {
      env: appEnv(dir, 0, {
        WECOM_GATEWAY_OPERATOR_HOST: "0.0.0.0",
        WECOM_GATEWAY_OPERATOR_PORT: "8646",
      }),
      cwd: dir,
    });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /gateway\.operator\.host .*is 0\.0\.0\.0, not a loopback address/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

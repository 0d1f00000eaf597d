import assert from "node:assert/strict";
import { commandBackend } from "../../src/agent/backends/command.ts";
import { createAgentPool } from "../../src/agent/pool.ts";
import { AgentBackendError, AgentTimeoutError } from "../../src/records/agent_error.ts";
import type { AgentConfig } from "../../src/config/types.ts";
import { agentConfig, live, textRequest } from "./fixtures.ts";

function config(argv: string[], cwd?: string): AgentConfig {
  return agentConfig({ kind: "command", command: { argv, cwd } });
}

const request = (text: string) => textRequest(text, { jobId: "job-42", app: "sales" });

const sh = (script: string) => config(["sh", "-c", script]);

Deno.test("command: stdin carries the message text and stdout, trimmed, is the reply", async () => {
  const text = "你好 👋\nsecond line";
  const reply = await commandBackend(request(text), sh("cat; echo; echo"), live());
  assert.equal(reply.text, text);
  assert.deepEqual(reply.attachments, []);
});

Deno.test("command: the context arrives in WECOM_* environment variables", async () => {
  const reply = await commandBackend(
    request("hi"),
    sh(
      'echo "$WECOM_CONVERSATION|$WECOM_USER_ID|$WECOM_CORP_ID|$WECOM_AGENT_ID|$WECOM_APP|$WECOM_JOB_ID|$WECOM_MSG_TYPE"',
    ),
    live(),
  );
  assert.equal(reply.text, "ww1:zhang|zhang|ww1|1000002|sales|job-42|text");
});

/** Secrets of the gateway's own environment, and a variable the operator passes on. */
const PARENT_ENV = {
  DENO_KV_ACCESS_TOKEN: "kv-token-secret",
  OPENAI_API_KEY: "sk-openai-secret",
  WECOM_CALLBACK_CORP_SECRET: "corp-secret",
  WECOM_CALLBACK_TOKEN: "callback-token",
  HERMES_HOME: "/srv/hermes",
};

/** Runs `fn` with {@linkcode PARENT_ENV} set in this process, then restores it. */
async function withParentEnv<T>(fn: () => Promise<T>): Promise<T> {
  const before = Object.keys(PARENT_ENV).map((name) => [name, Deno.env.get(name)] as const);
  for (const [name, value] of Object.entries(PARENT_ENV)) Deno.env.set(name, value);
  try {
    return await fn();
  } finally {
    for (const [name, value] of before) {
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  }
}

/** Prints the program's whole environment, one NAME=value per line. */
const PRINT_ENV = "env";

function envOf(text: string): Record<string, string> {
  return Object.fromEntries(
    text.split("\n").filter((line) => line.includes("=")).map((line) => {
      const at = line.indexOf("=");
      return [line.slice(0, at), line.slice(at + 1)];
    }),
  );
}

Deno.test("command: the program gets a minimal environment, none of the gateway's secrets", async () => {
  const env = await withParentEnv(async () =>
    envOf((await commandBackend(request("hi"), sh(PRINT_ENV), live())).text)
  );
  for (const name of Object.keys(PARENT_ENV)) assert.equal(env[name], undefined, name);
  assert.equal(env.PATH, Deno.env.get("PATH"));
  assert.equal(env.WECOM_JOB_ID, "job-42");
  // Only the base variables and the context: nothing else of this process's environment.
  const allowed = new Set(["PATH", "HOME", "USER", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR"]);
  const extra = Object.keys(env).filter((name) =>
    !allowed.has(name) && !name.startsWith("WECOM_") &&
    !["PWD", "SHLVL", "_", "OLDPWD"].includes(name)
  );
  assert.deepEqual(extra, []);
});

Deno.test("command: agent.command.env passes on the named variables and sets configured values", async () => {
  const config = agentConfig({
    kind: "command",
    command: {
      argv: ["sh", "-c", PRINT_ENV],
      passEnv: ["HERMES_HOME", "OPENAI_API_KEY", "NOT_SET_ANYWHERE_W11B"],
      env: { HERMES_PROFILE: "wecom", WECOM_JOB_ID: "forged" },
    },
  });
  const env = await withParentEnv(async () =>
    envOf((await commandBackend(request("hi"), config, live())).text)
  );
  assert.equal(env.HERMES_HOME, "/srv/hermes");
  assert.equal(env.OPENAI_API_KEY, "sk-openai-secret", "named, so configured to get it");
  assert.equal(env.HERMES_PROFILE, "wecom");
  assert.equal(env.NOT_SET_ANYWHERE_W11B, undefined);
  assert.equal(env.DENO_KV_ACCESS_TOKEN, undefined);
  assert.equal(env.WECOM_CALLBACK_CORP_SECRET, undefined);
  assert.equal(env.WECOM_JOB_ID, "job-42", "the context is not overridden by configuration");
});

Deno.test("command: through the pool's Web Workers the program still gets none of the gateway's secrets", async () => {
  const config = agentConfig({
    kind: "command",
    command: { argv: ["sh", "-c", PRINT_ENV], passEnv: ["HERMES_HOME"] },
  });
  const pool = createAgentPool(config, { size: 1 });
  try {
    const env = await withParentEnv(async () => envOf((await pool.run(request("hi"))).text));
    assert.equal(env.HERMES_HOME, "/srv/hermes");
    assert.equal(env.DENO_KV_ACCESS_TOKEN, undefined);
    assert.equal(env.OPENAI_API_KEY, undefined);
    assert.equal(env.WECOM_CALLBACK_TOKEN, undefined);
  } finally {
    await pool.close();
  }
});

Deno.test("command: runs in the configured cwd", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const reply = await commandBackend(request("hi"), config(["pwd"], dir), live());
    assert.equal(reply.text, await Deno.realPath(dir));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("command: a non-zero exit is an error with the code and the last stderr lines", async () => {
  const script = "for i in 1 2 3 4 5 6 7; do echo line$i >&2; done; echo partial; exit 3";
  await assert.rejects(
    commandBackend(request("hi"), sh(script), live()),
    (error: Error) => {
      assert.match(error.message, /'sh' exited with code 3/);
      assert.match(error.message, /line3 \| line4 \| line5 \| line6 \| line7$/);
      assert.doesNotMatch(error.message, /line2|partial/);
      return true;
    },
  );
});

Deno.test("command: a program that does not exist is a clear error", async () => {
  await assert.rejects(
    commandBackend(request("hi"), config(["/nonexistent/agent-bin"]), live()),
    /cannot start the agent command 'agent-bin': not found/,
  );
  await assert.rejects(
    commandBackend(request("hi"), config([]), live()),
    /set agent\.command\.argv/,
  );
});

Deno.test("command: a run past its deadline is killed quickly, children included", async () => {
  const started = performance.now();
  await assert.rejects(
    commandBackend(request("hi"), sh("sleep 30 & sleep 30; echo never"), AbortSignal.timeout(200)),
  );
  assert.ok(performance.now() - started < 1500, "the process group was killed promptly");
});

Deno.test("command: a program ignoring SIGTERM gets SIGKILL after the grace period", async () => {
  const controller = new AbortController();
  const started = performance.now();
  const run = commandBackend(
    request("hi"),
    sh("trap '' TERM; echo ready; sleep 30; sleep 30"),
    controller.signal,
    { killGraceMs: 300 },
  );
  setTimeout(() => controller.abort(new Error("stop")), 100);
  await assert.rejects(run, /stop/);
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 350 && elapsed < 2000, `killed after the grace, took ${elapsed} ms`);
});

Deno.test("command: MEDIA: lines in stdout become attachments", async () => {
  const reply = await commandBackend(
    request("hi"),
    sh("echo 'Your file:'; echo 'MEDIA:/tmp/report.pdf'"),
    live(),
  );
  assert.equal(reply.text, "Your file:");
  assert.deepEqual(reply.attachments, [{ path: "/tmp/report.pdf" }]);
});

Deno.test("command: through the pool, replies come back and timeouts kill the process", async () => {
  const pool = createAgentPool(sh("cat"), { size: 1, cancelGraceMs: 3000 });
  try {
    assert.equal((await pool.run(request("ping 🏓"))).text, "ping 🏓");
    const warned: string[] = [];
    const slow = createAgentPool(sh("sleep 30"), {
      size: 1,
      cancelGraceMs: 3000,
      log: (level, message) => warned.push(`${level} ${message}`),
    });
    try {
      const started = performance.now();
      await assert.rejects(
        slow.run(request("hi"), { timeoutMs: 200 }),
        (error) => error instanceof AgentTimeoutError && error.jobId === "job-42",
      );
      assert.ok(performance.now() - started < 1000);
      assert.ok(warned.some((line) => /^warn agent run timed out/.test(line)), warned.join("\n"));
    } finally {
      await slow.close();
    }
    const failing = createAgentPool(sh("echo oops >&2; exit 2"), { size: 1 });
    try {
      await assert.rejects(
        failing.run(request("hi")),
        (error) =>
          error instanceof AgentBackendError && /exited with code 2: oops/.test(error.message),
      );
    } finally {
      await failing.close();
    }
  } finally {
    await pool.close();
  }
});

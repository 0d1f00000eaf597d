import assert from "node:assert/strict";
import { commandBackend } from "../../src/agent/backends/command.ts";
import { createAgentPool } from "../../src/agent/pool.ts";
import { AgentBackendError, AgentTimeoutError } from "../../src/agent/errors.ts";
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

Deno.test("command: the gateway's WeCom secrets are not passed on, PATH is", async () => {
  Deno.env.set("WECOM_CALLBACK_CORP_SECRET", "s3cr3t-value");
  try {
    const reply = await commandBackend(
      request("hi"),
      sh('echo "secret=[$WECOM_CALLBACK_CORP_SECRET] path=${PATH:+set}"'),
      live(),
    );
    assert.equal(reply.text, "secret=[] path=set");
  } finally {
    Deno.env.delete("WECOM_CALLBACK_CORP_SECRET");
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

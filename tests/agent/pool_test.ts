import assert from "node:assert/strict";
import { type AgentPool, createAgentPool } from "../../src/agent/pool.ts";
import {
  AgentBackendError,
  AgentCancelledError,
  AgentCrashError,
  AgentPoolClosedError,
  AgentTimeoutError,
} from "../../src/records/agent_error.ts";
import type { AgentConfig, AgentKind } from "../../src/config/types.ts";
import type { LogFields, LogLevel } from "../../src/log.ts";
import { agentConfig, MISBEHAVING_WORKER, textRequest } from "./fixtures.ts";

function config(kind: AgentKind, url = ""): AgentConfig {
  return agentConfig({ kind, workers: 2, http: { url, headers: {} } });
}

const request = (text: string, jobId = `job-${text}`) => textRequest(text, { jobId });

/** Collects the pool's log lines instead of printing them. */
function quietLog() {
  const lines: { level: LogLevel; message: string; fields: LogFields }[] = [];
  return {
    lines,
    log: (level: LogLevel, message: string, fields: LogFields) =>
      lines.push({ level, message, fields }),
  };
}

/**
 * A webhook for the http backend. Texts starting with "hold" wait until
 * released, "fail" gets HTTP 500, anything else is answered `re: <text>`.
 */
function startHook() {
  const arrivals: string[] = [];
  const held = new Map<string, () => void>();
  const wakeups: (() => void)[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const { text } = await req.json() as { text: string };
    arrivals.push(text);
    for (const wake of wakeups.splice(0)) wake();
    if (text.startsWith("hold")) await new Promise<void>((resolve) => held.set(text, resolve));
    if (text.startsWith("fail")) return new Response("the agent broke", { status: 500 });
    return Response.json({ reply: `re: ${text}` });
  });
  const { port } = server.addr as Deno.NetAddr;
  return {
    url: `http://127.0.0.1:${port}/agent`,
    arrivals,
    release(text: string) {
      held.get(text)?.();
      held.delete(text);
    },
    /** Resolves once `count` requests have arrived (fails after 5 s). */
    async arrived(count: number) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`only ${arrivals.length} of ${count} arrived`)),
          5000,
        );
      });
      try {
        while (arrivals.length < count) {
          await Promise.race([new Promise<void>((resolve) => wakeups.push(resolve)), deadline]);
        }
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      for (const release of held.values()) release();
      held.clear();
      await server.shutdown();
    },
  };
}

/** The real worker, plus a listener that leaves an unhandled rejection behind on "hold-reject". */
const LEAKY_WORKER = new URL(
  "data:application/javascript," + encodeURIComponent(`
import ${JSON.stringify(new URL("../../src/agent/worker.ts", import.meta.url).href)};
self.addEventListener("message", (event) => {
  if (event.data.type === "run" && event.data.request.text === "hold-reject") {
    setTimeout(() => Promise.reject(new Error("escaped the backend")), 50);
  }
});`),
);

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Workers the pool started and workers that crashed, so far. */
function startsAndCrashes(pool: AgentPool): { started: number; crashed: number } {
  const { started, crashed } = pool.stats();
  return { started, crashed };
}

Deno.test("pool: echo through a real worker, reused across runs", async () => {
  const pool = createAgentPool(config("echo"), { size: 2 });
  try {
    for (const text of ["hello", "你好，世界 👋", "second line\nthird"]) {
      const reply = await pool.run(request(text));
      assert.deepEqual(reply, { text, attachments: [] });
    }
    const stats = pool.stats();
    assert.equal(stats.started, 1, "one worker served the sequential runs");
    assert.deepEqual({ busy: stats.busy, idle: stats.idle, queued: stats.queued }, {
      busy: 0,
      idle: 1,
      queued: 0,
    });
  } finally {
    await pool.close();
  }
});

Deno.test("pool: a worker idle for `idleMs` is terminated and started again on demand", async () => {
  const retiring = createAgentPool(config("echo"), { size: 2, idleMs: 150 });
  const keeping = createAgentPool(config("echo"), { size: 2, idleMs: 0 });
  try {
    assert.equal((await retiring.run(request("one"))).text, "one");
    assert.equal((await keeping.run(request("one"))).text, "one");
    assert.equal(retiring.stats().idle, 1, "kept while idle for less than idleMs");
    await wait(600);
    assert.deepEqual(
      { idle: retiring.stats().idle, retiredIdle: retiring.stats().retiredIdle },
      { idle: 0, retiredIdle: 1 },
      "the idle worker was terminated",
    );
    assert.deepEqual(
      { idle: keeping.stats().idle, retiredIdle: keeping.stats().retiredIdle },
      { idle: 1, retiredIdle: 0 },
      "idleMs 0 keeps the worker",
    );
    assert.equal(
      (await retiring.run(request("two"))).text,
      "two",
      "a new worker runs the next job",
    );
    assert.equal(retiring.stats().started, 2);
    assert.equal((await keeping.run(request("two"))).text, "two");
    assert.equal(keeping.stats().started, 1);
  } finally {
    await retiring.close();
    await keeping.close();
  }
});

Deno.test("pool: a worker given work again before `idleMs` is kept", async () => {
  const pool = createAgentPool(config("echo"), { size: 1, idleMs: 400 });
  try {
    for (const text of ["a", "b", "c", "d"]) {
      assert.equal((await pool.run(request(text))).text, text);
      await wait(200);
    }
    assert.deepEqual(
      { started: pool.stats().started, retiredIdle: pool.stats().retiredIdle },
      { started: 1, retiredIdle: 0 },
      "each run restarted the idle clock",
    );
  } finally {
    await pool.close();
  }
});

Deno.test("pool: idle time comes from agent.worker_idle_seconds (config.workerIdleMs)", async () => {
  const pool = createAgentPool({ ...config("echo"), workerIdleMs: 100 }, { size: 1 });
  try {
    await pool.run(request("x"));
    await wait(500);
    assert.equal(pool.stats().retiredIdle, 1);
  } finally {
    await pool.close();
  }
});

Deno.test("pool: runs at most `size` at once and starts the rest in FIFO order", async () => {
  const hook = startHook();
  const pool = createAgentPool(config("http", hook.url), { size: 2 });
  try {
    const runs = ["hold-a", "hold-b", "hold-c", "hold-d"].map((text) => pool.run(request(text)));
    await hook.arrived(2);
    await wait(100);
    assert.equal(hook.arrivals.length, 2, "the third run waits for a free worker");
    assert.deepEqual([...hook.arrivals].sort(), ["hold-a", "hold-b"]);
    assert.deepEqual(pool.stats(), {
      size: 2,
      busy: 2,
      idle: 0,
      queued: 2,
      started: 2,
      crashed: 0,
      retiredIdle: 0,
    });

    hook.release("hold-b");
    assert.equal((await runs[1]).text, "re: hold-b");
    await hook.arrived(3);
    assert.equal(hook.arrivals[2], "hold-c");
    hook.release("hold-a");
    await hook.arrived(4);
    assert.equal(hook.arrivals[3], "hold-d");
    hook.release("hold-c");
    hook.release("hold-d");
    assert.deepEqual((await Promise.all(runs)).map((reply) => reply.text), [
      "re: hold-a",
      "re: hold-b",
      "re: hold-c",
      "re: hold-d",
    ]);
    assert.equal(pool.stats().started, 2, "no more workers than `size`");
  } finally {
    await pool.close();
    await hook.close();
  }
});

Deno.test("pool: a timeout rejects, replaces the worker, and the next job runs on a fresh one", async () => {
  const hook = startHook();
  const { log, lines } = quietLog();
  const pool = createAgentPool(config("http", hook.url), { size: 1, log });
  try {
    const started = performance.now();
    await assert.rejects(
      pool.run(request("hold-forever", "job-slow"), { timeoutMs: 200 }),
      (error) => {
        assert.ok(error instanceof AgentTimeoutError);
        assert.equal(error.jobId, "job-slow");
        assert.equal(error.message, "it took longer than 200 ms and was stopped");
        return true;
      },
    );
    assert.ok(performance.now() - started < 1000);
    const reply = await pool.run(request("quick"));
    assert.equal(reply.text, "re: quick");
    assert.equal(pool.stats().started, 2, "the timed-out worker was replaced");
    assert.ok(lines.some((line) => line.fields.jobId === "job-slow" && line.level === "warn"));
  } finally {
    await pool.close();
    await hook.close();
  }
});

Deno.test("pool: the config's timeout applies when the run gives none", async () => {
  const hook = startHook();
  const pool = createAgentPool({ ...config("http", hook.url), timeoutMs: 150 }, {
    size: 1,
    log: quietLog().log,
  });
  try {
    await assert.rejects(pool.run(request("hold-1")), AgentTimeoutError);
  } finally {
    await pool.close();
    await hook.close();
  }
});

Deno.test("pool: aborting a running job rejects it at once and keeps the worker", async () => {
  const hook = startHook();
  const pool = createAgentPool(config("http", hook.url), { size: 1, log: quietLog().log });
  try {
    const controller = new AbortController();
    const run = pool.run(request("hold-cancel", "job-c"), { signal: controller.signal });
    await hook.arrived(1);
    controller.abort();
    await assert.rejects(
      run,
      (error) => error instanceof AgentCancelledError && error.jobId === "job-c",
    );
    assert.equal((await pool.run(request("after"))).text, "re: after");
    assert.equal(pool.stats().started, 1, "the worker stopped its backend and was reused");
  } finally {
    await pool.close();
    await hook.close();
  }
});

Deno.test("pool: aborting a queued job removes it from the queue; an aborted signal never starts", async () => {
  const hook = startHook();
  const pool = createAgentPool(config("http", hook.url), { size: 1 });
  try {
    const first = pool.run(request("hold-first"));
    const controller = new AbortController();
    const second = pool.run(request("second"), { signal: controller.signal });
    await hook.arrived(1);
    assert.equal(pool.stats().queued, 1);
    controller.abort();
    await assert.rejects(second, AgentCancelledError);
    assert.equal(pool.stats().queued, 0);
    await assert.rejects(
      pool.run(request("never"), { signal: AbortSignal.abort() }),
      AgentCancelledError,
    );
    hook.release("hold-first");
    assert.equal((await first).text, "re: hold-first");
    assert.deepEqual(hook.arrivals, ["hold-first"], "cancelled jobs never reached the agent");
  } finally {
    await pool.close();
    await hook.close();
  }
});

Deno.test("pool: a backend error fails that job only", async () => {
  const hook = startHook();
  const pool = createAgentPool(config("http", hook.url), { size: 1 });
  try {
    await assert.rejects(
      pool.run(request("fail-me", "job-f")),
      (error) =>
        error instanceof AgentBackendError && error.jobId === "job-f" &&
        /HTTP 500: the agent broke/.test(error.message),
    );
    assert.equal((await pool.run(request("fine"))).text, "re: fine");
    assert.deepEqual(startsAndCrashes(pool), { started: 1, crashed: 0 });
  } finally {
    await pool.close();
    await hook.close();
  }
});

/**
 * Runs a crash scenario of `pool_crash_child.ts` in its own process: Deno prints a real
 * worker crash to stderr, which is captured there instead of cluttering the test run.
 */
async function crashScenario(name: "uncaught" | "unloadable") {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./pool_crash_child.ts", import.meta.url).pathname, name],
    stdin: "null",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  const result = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    outcomes: { text?: string; crash?: { jobId: string; message: string; detail: string } }[];
    started: number;
    crashed: number;
    logged: { level: string; fields: Record<string, unknown> }[];
  };
  return { ...result, stderr };
}

Deno.test("pool: an uncaught error in a worker fails its job, the process and the pool survive", async () => {
  const result = await crashScenario("uncaught");
  assert.match(result.stderr, /boom in worker/, "the worker really crashed");
  assert.equal(result.outcomes[0].crash?.jobId, "job-t");
  assert.equal(result.outcomes[0].crash?.message, "the agent crashed");
  assert.match(result.outcomes[0].crash?.detail ?? "", /boom in worker/);
  assert.equal(result.outcomes[1].text, "ok: next");
  assert.deepEqual({ started: result.started, crashed: result.crashed }, {
    started: 2,
    crashed: 1,
  });
  assert.ok(result.logged.some((line) => line.level === "error" && line.fields.jobId === "job-t"));
});

Deno.test("pool: a worker that closes itself mid-run is detected by the heartbeat and replaced", async () => {
  const pool = createAgentPool(config("echo"), {
    size: 1,
    workerUrl: MISBEHAVING_WORKER,
    heartbeatMs: 30,
    heartbeatTimeoutMs: 200,
    log: quietLog().log,
  });
  try {
    const started = performance.now();
    await assert.rejects(pool.run(request("close", "job-x")), (error) => {
      assert.ok(error instanceof AgentCrashError);
      assert.match(error.detail, /stopped answering/);
      return true;
    });
    assert.ok(performance.now() - started < 2000);
    assert.equal((await pool.run(request("again"))).text, "ok: again");
    assert.equal(pool.stats().crashed, 1);
  } finally {
    await pool.close();
  }
});

Deno.test("pool: a busy worker that answers pings is not mistaken for a dead one", async () => {
  const hook = startHook();
  const pool = createAgentPool(config("http", hook.url), {
    size: 1,
    heartbeatMs: 20,
    heartbeatTimeoutMs: 100,
  });
  try {
    const run = pool.run(request("hold-long"));
    await hook.arrived(1);
    await wait(400);
    hook.release("hold-long");
    assert.equal((await run).text, "re: hold-long");
    assert.equal(pool.stats().crashed, 0);
  } finally {
    await pool.close();
    await hook.close();
  }
});

Deno.test("pool: an unhandled rejection inside the real worker fails the run, not the worker", async () => {
  const hook = startHook();
  const pool = createAgentPool(config("http", hook.url), {
    size: 1,
    workerUrl: LEAKY_WORKER,
    log: quietLog().log,
  });
  try {
    await assert.rejects(
      pool.run(request("hold-reject")),
      (error) =>
        error instanceof AgentBackendError &&
        /unhandled rejection: escaped the backend/.test(error.message),
    );
    assert.equal((await pool.run(request("ok"))).text, "re: ok");
    assert.deepEqual(startsAndCrashes(pool), { started: 1, crashed: 0 });
  } finally {
    await pool.close();
    await hook.close();
  }
});

Deno.test("pool: a worker module that cannot load fails the job as a crash", async () => {
  const result = await crashScenario("unloadable");
  assert.match(result.stderr, /nonexistent\/agent_worker\.ts/, "the module really failed to load");
  assert.deepEqual(result.outcomes.map((outcome) => outcome.crash?.jobId), ["job-t", "job-n"]);
  assert.equal(result.crashed, 2);
});

Deno.test("pool: close() rejects running and queued jobs, terminates a stuck worker after the grace", async () => {
  const pool = createAgentPool(config("echo"), {
    size: 1,
    workerUrl: MISBEHAVING_WORKER,
    cancelGraceMs: 100,
    log: quietLog().log,
  });
  const running = assert.rejects(
    pool.run(request("hang", "job-running")),
    (error) => error instanceof AgentPoolClosedError && error.jobId === "job-running",
  );
  const queued = assert.rejects(
    pool.run(request("later", "job-queued")),
    (error) => error instanceof AgentPoolClosedError && error.jobId === "job-queued",
  );
  await wait(50);
  const started = performance.now();
  await pool.close();
  const took = performance.now() - started;
  assert.ok(took >= 90 && took < 1000, `close waited for the grace, took ${took} ms`);
  await running;
  await queued;
  await assert.rejects(pool.run(request("after")), AgentPoolClosedError);
  assert.deepEqual({ busy: pool.stats().busy, idle: pool.stats().idle }, { busy: 0, idle: 0 });
  await pool.close(); // a second close is harmless
});

Deno.test("pool: refuses a size that is not a positive integer", () => {
  assert.throws(
    () => createAgentPool(config("echo"), { size: 0 }),
    /'size' must be a positive integer: current value is 0/,
  );
});

/**
 * Runs one agent-pool crash scenario in its own process, for `pool_test.ts`.
 *
 * A worker that really crashes (an uncaught error, a module that cannot load)
 * makes Deno itself print the error to stderr from the worker's thread, which
 * no handler can stop. Running such scenarios here keeps the test run quiet:
 * the parent test captures this process's stderr, asserts that the crash was
 * printed there, and checks the outcome this script writes to stdout as JSON.
 *
 * @example Usage
 * ```sh
 * deno run -A tests/agent/pool_crash_child.ts uncaught
 * ```
 *
 * @module
 */

import { createAgentPool } from "../../src/agent/pool.ts";
import { AgentCrashError } from "../../src/records/agent_error.ts";
import type { LogFields, LogLevel } from "../../src/log.ts";
import { agentConfig, MISBEHAVING_WORKER, textRequest } from "./fixtures.ts";

/** What one run through the pool ended with. */
interface Outcome {
  text?: string;
  crash?: { jobId: string; message: string; detail: string };
  other?: string;
}

const WORKERS: Record<string, URL> = {
  uncaught: MISBEHAVING_WORKER,
  unloadable: new URL("file:///nonexistent/agent_worker.ts"),
};

const scenario = Deno.args[0];
if (!(scenario in WORKERS)) throw new Error(`unknown scenario '${scenario}'`);
const logged: { level: LogLevel; message: string; fields: LogFields }[] = [];
const pool = createAgentPool(agentConfig({ kind: "echo", workers: 1 }), {
  size: 1,
  workerUrl: WORKERS[scenario],
  log: (level, message, fields) => logged.push({ level, message, fields }),
});
const outcomes: Outcome[] = [];
for (const [text, jobId] of [["throw", "job-t"], ["next", "job-n"]]) {
  try {
    outcomes.push({ text: (await pool.run(textRequest(text, { jobId }))).text });
  } catch (error) {
    outcomes.push(
      error instanceof AgentCrashError
        ? { crash: { jobId: error.jobId, message: error.message, detail: error.detail } }
        : { other: String(error) },
    );
  }
}
const { started, crashed } = pool.stats();
await pool.close();
console.log(JSON.stringify({ outcomes, started, crashed, logged }));

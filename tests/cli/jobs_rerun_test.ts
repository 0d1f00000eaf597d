import assert from "node:assert/strict";
import { captureContext } from "../../src/cli/context.ts";
import { createJobsCommand } from "../../src/cli/jobs.ts";
import {
  CANCELLED_ERROR,
  claimNext,
  completeJob,
  enqueueJob,
  getJob,
} from "../../src/records/job_store/mod.ts";
import type { JobRecord } from "../../src/records/job.ts";
import { workdir } from "./run_cli.ts";

const CORP = "wwrerun00000000001";
let counter = 0;

function textJob(user: string, content: string, at: number): JobRecord {
  const id = at.toString(16).padStart(12, "0") + (counter++).toString(16).padStart(4, "0") +
    crypto.randomUUID().slice(0, 8);
  return {
    id,
    conversation: `${CORP}:${user}`,
    app: "default",
    corpId: CORP,
    agentId: "1000002",
    userId: user,
    message: {
      type: "text",
      content,
      msgId: crypto.randomUUID(),
      corpId: CORP,
      userId: user,
      createTime: Math.floor(at / 1000),
      agentId: "1000002",
    },
    receivedAt: at,
    state: "queued",
    attempts: 0,
    updatedAt: at,
  };
}

/** Enqueues, claims and ends a job as a runner would. */
async function ended(
  kv: Deno.Kv,
  record: JobRecord,
  state: "done" | "failed",
  error?: string,
): Promise<JobRecord> {
  assert.ok((await enqueueJob(kv.atomic(), record).commit()).ok);
  const claimed = await claimNext(kv, "test-runner", record.receivedAt, 60_000);
  assert.equal(claimed?.id, record.id);
  assert.ok(
    await completeJob(kv, claimed!, "test-runner", { state, error, now: record.receivedAt + 1 }),
  );
  return (await getJob(kv, record.id))!;
}

async function jobsCli(args: string[], env: Record<string, string>, cwd: string) {
  const { context, stdout, stderr } = captureContext({ env, cwd });
  const code = await createJobsCommand({ context }).run(args);
  return { code, stdout: stdout(), stderr: stderr() };
}

Deno.test("jobs rerun --all queues failed agent jobs again, each conversation's in the order sent", async () => {
  const dir = await workdir();
  const path = `${dir}/kv.sqlite3`;
  const env = { WECOM_GATEWAY_KV: path };
  try {
    const now = Date.now() - 60_000;
    let kv = await Deno.openKv(path);
    const first = await ended(kv, textJob("zhang", "first", now), "failed", "backend: down");
    const second = await ended(kv, textJob("zhang", "second", now + 1), "failed", "backend: down");
    const stopped = await ended(kv, textJob("li", "stopped", now + 2), "failed", CANCELLED_ERROR);
    const done = await ended(kv, textJob("wang", "fine", now + 3), "done");
    const command = await ended(kv, textJob("wang", "/status", now + 4), "failed", "internal: x");
    kv.close();

    const all = await jobsCli(["rerun", "--all"], env, dir);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /2 of 2 queued again/);
    assert.ok(all.stdout.indexOf(first.id) < all.stdout.indexOf(second.id));
    assert.ok(!all.stdout.includes(stopped.id), "a job /stop cancelled is not rerun by --all");

    kv = await Deno.openKv(path);
    try {
      const again = (await getJob(kv, first.id))!;
      assert.deepEqual([again.state, again.attempts, again.error], ["queued", 0, undefined]);
      // One at a time per conversation, oldest first: the second waits for the first.
      const claimed = await claimNext(kv, "runner", Date.now(), 60_000);
      assert.equal(claimed?.id, first.id);
      assert.equal(await claimNext(kv, "runner", Date.now(), 60_000), null);
      assert.ok(await completeJob(kv, claimed!, "runner", { state: "done" }));
      assert.equal((await claimNext(kv, "runner", Date.now(), 60_000))?.id, second.id);
    } finally {
      kv.close();
    }

    const named = await jobsCli(["rerun", stopped.id, done.id, command.id, "nope"], env, dir);
    assert.equal(named.code, 1);
    assert.match(named.stdout, new RegExp(`${stopped.id}: queued again \\(${CORP}:li\\)`));
    assert.match(named.stderr, new RegExp(`${done.id}: the job is done, not failed`));
    assert.match(named.stderr, new RegExp(`${command.id}: the job is a command`));
    assert.match(named.stderr, /nope: there is no job with this id/);
    assert.match(named.stdout, /1 of 4 queued again/);

    const usage = await jobsCli(["rerun"], env, dir);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /Name the failed jobs to run again/);
    assert.equal((await jobsCli(["rerun", "--all", first.id], env, dir)).code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

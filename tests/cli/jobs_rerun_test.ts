import assert from "node:assert/strict";
import {
  CANCELLED_ERROR,
  claimNext,
  completeJob,
  getJob,
} from "../../src/records/job_store/mod.ts";
import { CORP, jobsCli, storeJob, textJob } from "./jobs_fixtures.ts";
import { workdir } from "./run_cli.ts";

Deno.test("jobs rerun --all queues failed agent jobs again, each conversation's in the order sent", async () => {
  const dir = await workdir();
  const path = `${dir}/kv.sqlite3`;
  const env = { WECOM_GATEWAY_KV: path };
  try {
    const now = Date.now() - 60_000;
    let kv = await Deno.openKv(path);
    const first = await storeJob(kv, textJob("zhang", "first", now), {
      state: "failed",
      error: "backend: down",
    });
    const second = await storeJob(kv, textJob("zhang", "second", now + 1), {
      state: "failed",
      error: "backend: down",
    });
    const stopped = await storeJob(kv, textJob("li", "stopped", now + 2), {
      state: "failed",
      error: CANCELLED_ERROR,
    });
    const done = await storeJob(kv, textJob("wang", "fine", now + 3), { state: "done" });
    const command = await storeJob(kv, textJob("wang", "/status", now + 4), {
      state: "failed",
      error: "internal: x",
    });
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

import assert from "node:assert/strict";
import {
  cancelConversation,
  CANCELLED_ERROR,
  claimJobs,
  claimNext,
  commitWhileOwned,
  completeJob,
  conversationJobs,
  countJobs,
  enqueueJob,
  getJob,
  heartbeat,
  listJobs,
  purgeJobs,
  releaseJob,
  sweepExpired,
} from "../../src/records/job_store/mod.ts";
import type { JobRecord } from "../../src/records/job.ts";
import { keys } from "../../src/store/keys.ts";
import { enqueue, outbox, plan, send, textJob, textOf } from "../jobs/job_fixtures.ts";

const LEASE = 60_000;
const T0 = Date.UTC(2030, 0, 1);

async function keysUnder(kv: Deno.Kv, prefix: Deno.KvKey): Promise<number> {
  return (await Array.fromAsync(kv.list({ prefix }))).length;
}

Deno.test("enqueue, claim and complete write the reply in the same commit as done", async () => {
  using kv = await Deno.openKv(":memory:");
  const job = await send(kv, "ww1:alice", "hello", T0);
  assert.deepEqual((await getJob(kv, job.id))?.state, "queued");

  const claimed = await claimNext(kv, "r1", T0, LEASE);
  assert.ok(claimed);
  assert.deepEqual(claimed.id, job.id);
  assert.deepEqual(claimed.state, "running");
  assert.deepEqual(claimed.attempts, 1);
  assert.deepEqual(claimed.lease, { owner: "r1", until: T0 + LEASE });
  assert.deepEqual((await kv.get(keys.conversationLock("ww1:alice"))).value, {
    jobId: job.id,
    until: T0 + LEASE,
  });

  const items = plan.reply(claimed, { text: "hi there", attachments: [] }, { markdown: false });
  const ok = await completeJob(kv, claimed, "r1", {
    state: "done",
    now: T0 + 5,
    extra: (op) => void plan.add(op, items),
  });
  assert.ok(ok);
  const done = await getJob(kv, job.id);
  assert.deepEqual(done?.state, "done");
  assert.deepEqual(done?.lease, undefined);
  assert.deepEqual(done?.updatedAt, T0 + 5);
  assert.deepEqual((await outbox(kv)).map(textOf), ["hi there"]);
  assert.deepEqual((await kv.get(keys.conversationLock("ww1:alice"))).value, null);
  assert.deepEqual(await keysUnder(kv, keys.runningPrefix()), 0);
  assert.deepEqual(await keysUnder(kv, keys.conversationQueuePrefix("ww1:alice")), 0);
  assert.deepEqual(await countJobs(kv), { queued: 0, running: 0, done: 1, failed: 0, dead: 0 });
});

Deno.test("a runner that lost its lease cannot complete the job nor write its reply", async () => {
  using kv = await Deno.openKv(":memory:");
  await send(kv, "ww1:alice", "hello", T0);
  const claimed = await claimNext(kv, "r1", T0, LEASE);
  assert.ok(claimed);
  await sweepExpired(kv, T0 + LEASE + 1, 3);
  const again = await claimNext(kv, "r2", T0 + LEASE + 2, LEASE);
  assert.deepEqual(again?.id, claimed.id);
  assert.deepEqual(again?.attempts, 2);

  const items = plan.reply(claimed, { text: "stale reply", attachments: [] }, { markdown: false });
  const ok = await completeJob(kv, claimed, "r1", {
    state: "done",
    extra: (op) => void plan.add(op, items),
  });
  assert.deepEqual(ok, false);
  assert.deepEqual(await outbox(kv), []);
  assert.deepEqual((await getJob(kv, claimed.id))?.lease?.owner, "r2");
  assert.deepEqual(await heartbeat(kv, claimed, "r1", T0 + LEASE + 3, LEASE), {
    ok: false,
    reason: "lost",
  });
  assert.deepEqual(await commitWhileOwned(kv, claimed, "r1", (op) => void op.set(["x"], 1)), false);
  assert.deepEqual((await kv.get(["x"])).value, null);
});

Deno.test("jobs of one conversation are claimed one at a time in arrival order", async () => {
  using kv = await Deno.openKv(":memory:");
  const a1 = await send(kv, "ww1:alice", "a1", T0);
  const a2 = await send(kv, "ww1:alice", "a2", T0 + 1);
  const a3 = await send(kv, "ww1:alice", "a3", T0 + 2);
  const b1 = await send(kv, "ww1:bob", "b1", T0 + 3);

  const first = await claimNext(kv, "r1", T0 + 10, LEASE);
  const second = await claimNext(kv, "r1", T0 + 10, LEASE);
  assert.deepEqual([first?.id, second?.id], [a1.id, b1.id]);
  assert.deepEqual(
    await claimNext(kv, "r1", T0 + 10, LEASE),
    null,
    "alice is busy, bob has no more",
  );

  assert.ok(await completeJob(kv, first!, "r1", { state: "done", now: T0 + 20 }));
  const third = await claimNext(kv, "r1", T0 + 21, LEASE);
  assert.deepEqual(third?.id, a2.id);
  assert.deepEqual(await claimNext(kv, "r1", T0 + 21, LEASE), null);
  assert.ok(await completeJob(kv, third!, "r1", { state: "failed", error: "x", now: T0 + 30 }));
  assert.deepEqual((await claimNext(kv, "r1", T0 + 31, LEASE))?.id, a3.id);
});

Deno.test("concurrent claimers never claim the same job twice", async () => {
  using kv = await Deno.openKv(":memory:");
  const jobs = [];
  for (let i = 0; i < 8; i++) jobs.push(await send(kv, `ww1:user${i % 4}`, `m${i}`, T0 + i));
  const claims = await Promise.all(
    Array.from({ length: 12 }, (_, i) => claimNext(kv, `r${i}`, T0 + 100, LEASE)),
  );
  const claimed = claims.filter((job) => job !== null);
  assert.deepEqual(claimed.length, 4, "one per conversation");
  assert.deepEqual(new Set(claimed.map((job) => job.id)).size, 4);
  assert.deepEqual(
    claimed.map((job) => job.id).sort(),
    jobs.slice(0, 4).map((job) => job.id).sort(),
    "the head of each conversation",
  );
});

Deno.test("a busy conversation with many waiting jobs does not starve another one", async () => {
  using kv = await Deno.openKv(":memory:");
  await send(kv, "ww1:alice", "first", T0);
  assert.ok(await claimNext(kv, "r1", T0, LEASE));
  for (let i = 0; i < 300; i++) await send(kv, "ww1:alice", `more ${i}`, T0 + 1 + i);
  const bob = await send(kv, "ww1:bob", "bob", T0 + 400);

  assert.deepEqual((await claimNext(kv, "r1", T0 + 500, LEASE))?.id, bob.id);
  assert.deepEqual(await keysUnder(kv, keys.readyPrefix()), 0, "alice's hints were consumed");
  assert.deepEqual(await claimNext(kv, "r1", T0 + 500, LEASE), null);
});

Deno.test("the end of a job makes the next job of its conversation claimable", async () => {
  using kv = await Deno.openKv(":memory:");
  await send(kv, "ww1:alice", "a1", T0);
  const a1 = await claimNext(kv, "r1", T0, LEASE);
  const a2 = await send(kv, "ww1:alice", "a2", T0 + 1);
  // Another runner looks while a1 runs: it drops a2's hint.
  assert.deepEqual(await claimNext(kv, "r2", T0 + 2, LEASE), null);
  assert.deepEqual(await keysUnder(kv, keys.readyPrefix()), 0);
  assert.ok(await completeJob(kv, a1!, "r1", { state: "done", now: T0 + 3 }));
  assert.deepEqual((await claimNext(kv, "r2", T0 + 4, LEASE))?.id, a2.id);
});

Deno.test("a command job is claimed while its conversation runs an agent job", async () => {
  using kv = await Deno.openKv(":memory:");
  await send(kv, "ww1:alice", "long task", T0);
  const running = await claimNext(kv, "r1", T0, LEASE);
  assert.ok(running);
  const waiting = await send(kv, "ww1:alice", "next task", T0 + 1);
  const status = await send(kv, "ww1:alice", " /status ", T0 + 2);

  assert.deepEqual(await claimNext(kv, "r1", T0 + 3, LEASE, { commands: false }), null);
  const command = await claimNext(kv, "r1", T0 + 3, LEASE, { jobs: false });
  assert.deepEqual(command?.id, status.id);
  assert.ok(await completeJob(kv, command!, "r1", { state: "done", now: T0 + 4 }));
  assert.deepEqual((await kv.get(keys.conversationLock("ww1:alice"))).value, {
    jobId: running.id,
    until: T0 + LEASE,
    waiting: true, // the agent-job scan found alice busy and dropped the hint of "next task"
  });
  assert.ok(await completeJob(kv, running, "r1", { state: "done", now: T0 + 5 }));
  assert.deepEqual((await claimNext(kv, "r1", T0 + 6, LEASE))?.id, waiting.id);
});

Deno.test("heartbeat extends the lease so the sweeper leaves the job alone", async () => {
  using kv = await Deno.openKv(":memory:");
  await send(kv, "ww1:alice", "hello", T0);
  const claimed = await claimNext(kv, "r1", T0, LEASE);
  assert.ok(claimed);
  const beat = await heartbeat(kv, claimed, "r1", T0 + LEASE - 10, LEASE);
  assert.deepEqual(beat, { ok: true, until: T0 + 2 * LEASE - 10 });
  const swept = await sweepExpired(kv, T0 + LEASE + 10, 3);
  assert.deepEqual(swept, { requeued: [], dead: [], cancelled: [] });
  assert.deepEqual((await getJob(kv, claimed.id))?.state, "running");
  assert.deepEqual((await kv.get(keys.conversationLock("ww1:alice"))).value, {
    jobId: claimed.id,
    until: T0 + 2 * LEASE - 10,
  });
});

Deno.test("an expired lease is swept back to the head of its conversation and rerun", async () => {
  using kv = await Deno.openKv(":memory:");
  const a1 = await send(kv, "ww1:alice", "a1", T0);
  const a2 = await send(kv, "ww1:alice", "a2", T0 + 1);
  const dead = await claimNext(kv, "dead-runner", T0, LEASE);
  assert.deepEqual(dead?.id, a1.id);

  assert.deepEqual((await sweepExpired(kv, T0 + LEASE - 1, 3)).requeued, [], "lease still valid");
  assert.deepEqual((await sweepExpired(kv, T0 + LEASE + 1, 3)).requeued, [a1.id]);
  const requeued = await getJob(kv, a1.id);
  assert.deepEqual(requeued?.state, "queued");
  assert.deepEqual(requeued?.attempts, 1);
  assert.deepEqual(requeued?.lease, undefined);

  const again = await claimNext(kv, "r2", T0 + LEASE + 2, LEASE);
  assert.deepEqual(again?.id, a1.id, "a1 keeps its place before a2");
  assert.deepEqual(again?.attempts, 2);
  assert.ok(await completeJob(kv, again!, "r2", { state: "done", now: T0 + LEASE + 3 }));
  assert.deepEqual((await claimNext(kv, "r2", T0 + LEASE + 4, LEASE))?.id, a2.id);
});

Deno.test("sweeping from several processes at once moves a job only once", async () => {
  using kv = await Deno.openKv(":memory:");
  await send(kv, "ww1:alice", "a1", T0);
  await claimNext(kv, "dead-runner", T0, LEASE);
  const results = await Promise.all(
    Array.from({ length: 5 }, () => sweepExpired(kv, T0 + LEASE + 1, 3)),
  );
  assert.deepEqual(results.flatMap((result) => result.requeued).length, 1);
  assert.deepEqual(await countJobs(kv), { queued: 1, running: 0, done: 0, failed: 0, dead: 0 });
});

Deno.test("a job that keeps losing its runner becomes dead and the user is told", async () => {
  using kv = await Deno.openKv(":memory:");
  const a1 = await send(kv, "ww1:alice", "a1", T0);
  const a2 = await send(kv, "ww1:alice", "a2", T0 + 1);
  const onDead = (op: Deno.AtomicOperation, job: { id: string }) => {
    const target = { conversation: "ww1:alice", app: "default", userId: "alice", jobId: job.id };
    plan.add(op, [plan.notice(target, "could not complete", "error")]);
  };
  let t = T0;
  for (let attempt = 1; attempt <= 2; attempt++) {
    assert.deepEqual((await claimNext(kv, "dead-runner", t, LEASE))?.attempts, attempt);
    t += LEASE + 1;
    const swept = await sweepExpired(kv, t, 2, { onDead });
    assert.deepEqual(swept.requeued.length + swept.dead.length, 1);
  }
  const job = await getJob(kv, a1.id);
  assert.deepEqual(job?.state, "dead");
  assert.ok(job?.error?.includes("lost its runner 2 time(s)"));
  const items = await outbox(kv, "ww1:alice");
  assert.deepEqual(items.map((item) => [item.purpose, textOf(item), item.userId]), [
    ["error", "could not complete", "alice"],
  ]);
  assert.deepEqual((await claimNext(kv, "r2", t + 1, LEASE))?.id, a2.id, "the next job runs");
});

Deno.test("releaseJob gives the job back at once without counting the attempt", async () => {
  using kv = await Deno.openKv(":memory:");
  const a1 = await send(kv, "ww1:alice", "a1", T0);
  const claimed = await claimNext(kv, "r1", T0, LEASE);
  assert.ok(await releaseJob(kv, claimed!, "r1", T0 + 1));
  assert.deepEqual((await getJob(kv, a1.id))?.attempts, 0);
  const again = await claimNext(kv, "r2", T0 + 2, LEASE);
  assert.deepEqual(again?.id, a1.id);
  assert.deepEqual(again?.attempts, 1);
  assert.deepEqual(await releaseJob(kv, claimed!, "r1", T0 + 3), false, "no longer ours");
});

Deno.test("cancelConversation flags the running job and drops the waiting ones", async () => {
  using kv = await Deno.openKv(":memory:");
  const a1 = await send(kv, "ww1:alice", "a1", T0);
  const running = await claimNext(kv, "r1", T0, LEASE);
  const a2 = await send(kv, "ww1:alice", "a2", T0 + 1);
  const a3 = await send(kv, "ww1:alice", "a3", T0 + 2);
  const bob = await send(kv, "ww1:bob", "b", T0 + 3);

  const result = await cancelConversation(kv, "ww1:alice", T0 + 10);
  assert.deepEqual(result.stopped.map((job) => job.id), [a1.id]);
  assert.deepEqual(result.dropped.map((job) => job.id), [a2.id, a3.id]);
  assert.deepEqual((await getJob(kv, a2.id))?.state, "failed");
  assert.deepEqual((await getJob(kv, a2.id))?.error, CANCELLED_ERROR);
  assert.deepEqual(await heartbeat(kv, running!, "r1", T0 + 11, LEASE), {
    ok: false,
    reason: "cancelled",
  });
  assert.ok(await completeJob(kv, running!, "r1", { state: "failed", error: CANCELLED_ERROR }));
  assert.deepEqual(await kv.get(keys.jobCancel(a1.id)).then((entry) => entry.value), null);
  // Bob is untouched; alice has nothing left.
  const next = await claimNext(kv, "r1", T0 + 12, LEASE);
  assert.deepEqual(next?.id, bob.id);
  assert.deepEqual(await claimNext(kv, "r1", T0 + 12, LEASE), null);
  assert.deepEqual(await conversationJobs(kv, "ww1:alice"), []);
});

Deno.test("cancelConversation ends a running job whose runner is gone", async () => {
  using kv = await Deno.openKv(":memory:");
  const a1 = await send(kv, "ww1:alice", "a1", T0);
  await claimNext(kv, "dead-runner", T0, LEASE);
  const result = await cancelConversation(kv, "ww1:alice", T0 + LEASE + 1);
  assert.deepEqual(result.stopped.map((job) => job.id), [a1.id]);
  assert.deepEqual((await getJob(kv, a1.id))?.state, "failed");
  assert.deepEqual((await kv.get(keys.conversationLock("ww1:alice"))).value, null);
  const nothing = await cancelConversation(kv, "ww1:alice", T0 + LEASE + 2);
  assert.deepEqual(nothing, { stopped: [], dropped: [] });
});

Deno.test("a job cancelled while its runner died is failed by the sweeper, not rerun", async () => {
  using kv = await Deno.openKv(":memory:");
  const a1 = await send(kv, "ww1:alice", "a1", T0);
  await claimNext(kv, "dead-runner", T0, LEASE);
  await cancelConversation(kv, "ww1:alice", T0 + 1);
  const swept = await sweepExpired(kv, T0 + LEASE + 1, 3);
  assert.deepEqual(swept.cancelled, [a1.id]);
  assert.deepEqual((await getJob(kv, a1.id))?.state, "failed");
  assert.deepEqual(await claimNext(kv, "r2", T0 + LEASE + 2, LEASE), null);
});

Deno.test("listJobs and countJobs report jobs by state, newest first", async () => {
  using kv = await Deno.openKv(":memory:");
  const a = await send(kv, "ww1:alice", "a", T0);
  const b = await send(kv, "ww1:bob", "b", T0 + 1);
  const c = await send(kv, "ww1:carol", "c", T0 + 2);
  const claimed = await claimNext(kv, "r1", T0 + 3, LEASE);
  assert.deepEqual(claimed?.id, a.id);
  assert.deepEqual(await countJobs(kv), { queued: 2, running: 1, done: 0, failed: 0, dead: 0 });
  assert.deepEqual((await listJobs(kv, { state: "queued" })).map((job) => job.id), [c.id, b.id]);
  assert.deepEqual((await listJobs(kv, { limit: 2 })).map((job) => job.id), [c.id, b.id]);
  assert.deepEqual((await listJobs(kv, { oldestFirst: true, limit: 1 })).map((job) => job.id), [
    a.id,
  ]);
  assert.deepEqual((await listJobs(kv, { state: "running" }))[0].lease?.owner, "r1");
});

Deno.test("purgeJobs deletes only finished jobs older than the retention", async () => {
  using kv = await Deno.openKv(":memory:");
  const DAY = 24 * 3600_000;
  const old = await send(kv, "ww1:alice", "old", T0);
  const oldClaim = await claimNext(kv, "r1", T0, LEASE);
  assert.ok(await completeJob(kv, oldClaim!, "r1", { state: "done", now: T0 + 1000 }));
  const recent = await send(kv, "ww1:bob", "recent", T0 + 6 * DAY);
  const recentClaim = await claimNext(kv, "r1", T0 + 6 * DAY, LEASE);
  assert.ok(await completeJob(kv, recentClaim!, "r1", { state: "failed", now: T0 + 6 * DAY }));
  const waiting = await send(kv, "ww1:carol", "waiting", T0);

  const purged = await purgeJobs(kv, { olderThan: T0 + 8 * DAY - 7 * DAY });
  assert.deepEqual(purged, 1);
  assert.deepEqual(await getJob(kv, old.id), null);
  assert.deepEqual((await getJob(kv, recent.id))?.state, "failed");
  assert.deepEqual((await getJob(kv, waiting.id))?.state, "queued");
  assert.deepEqual(await countJobs(kv), { queued: 1, running: 0, done: 0, failed: 1, dead: 0 });
  await assert.rejects(() => purgeJobs(kv, { states: ["queued"], olderThan: T0 }), {
    name: "RangeError",
    message: /only finished jobs may be purged/,
  });
});

Deno.test("enqueueJob is pure: intake can add it to a commit guarded by its dedupe check", async () => {
  using kv = await Deno.openKv(":memory:");
  const dedupe = keys.dedupe("ww1", "msg-1");
  const record = async () => {
    const job = textJob("ww1:alice", "hello", T0);
    const op = kv.atomic().check({ key: dedupe, versionstamp: null }).set(dedupe, { at: T0 });
    return await enqueueJob(op, job).commit();
  };
  assert.ok((await record()).ok);
  assert.deepEqual((await record()).ok, false, "the duplicate is refused");
  assert.deepEqual((await countJobs(kv)).queued, 1);
  assert.ok(await claimNext(kv, "r1", T0, LEASE));
});

Deno.test("claimNext rejects a lease that is not positive", async () => {
  using kv = await Deno.openKv(":memory:");
  await enqueue(kv, textJob("ww1:alice", "x", T0));
  await assert.rejects(() => claimNext(kv, "r1", T0, 0), {
    name: "RangeError",
    message: /'leaseMs' must be a positive/,
  });
});

Deno.test("claimJobs claims one head per conversation, oldest first, up to the number asked", async () => {
  using kv = await Deno.openKv(":memory:");
  const a1 = await send(kv, "ww1:alice", "a1", T0);
  const a2 = await send(kv, "ww1:alice", "a2", T0 + 1);
  const b1 = await send(kv, "ww1:bob", "b1", T0 + 2);
  const c1 = await send(kv, "ww1:carol", "c1", T0 + 3);
  const d1 = await send(kv, "ww1:dave", "d1", T0 + 4);
  const started: string[] = [];
  const first = await claimJobs(kv, "r1", T0 + 10, LEASE, {
    jobs: 3,
    onClaim: (job) => started.push(job.id),
  });
  assert.deepEqual(first.map((job) => job.id).sort(), [a1.id, b1.id, c1.id].sort());
  assert.deepEqual(
    started.sort(),
    first.map((job) => job.id).sort(),
    "each claim reported at once",
  );
  assert.ok(first.every((job) => job.state === "running" && job.lease?.owner === "r1"));
  assert.deepEqual((await claimJobs(kv, "r1", T0 + 10, LEASE, { jobs: 5 })).map((job) => job.id), [
    d1.id,
  ], "alice is busy: only dave is left");
  assert.ok(await completeJob(kv, first.find((job) => job.id === a1.id)!, "r1", { state: "done" }));
  assert.deepEqual((await claimJobs(kv, "r1", T0 + 20, LEASE, { jobs: 5 })).map((job) => job.id), [
    a2.id,
  ]);
});

Deno.test("concurrent claimJobs callers never claim a job twice and keep each conversation in order", async () => {
  using kv = await Deno.openKv(":memory:");
  const expected = new Map<string, string[]>();
  for (let i = 0; i < 60; i++) {
    const conversation = `ww1:user${i % 12}`;
    const job = await send(kv, conversation, `m${i}`, T0 + i);
    expected.set(conversation, [...(expected.get(conversation) ?? []), job.id]);
  }
  const claimedBy = new Map<string, string>();
  const order = new Map<string, string[]>();
  const holding = new Set<string>();
  let overlap = false;
  const claimer = async (runnerId: string) => {
    for (let idle = 0; idle < 3;) {
      const jobs = await claimJobs(kv, runnerId, T0 + 1000, LEASE, { jobs: 4, commands: 0 });
      if (jobs.length === 0) {
        idle++;
        await new Promise((resolve) => setTimeout(resolve, 2));
        continue;
      }
      idle = 0;
      await Promise.all(jobs.map(async (job) => {
        assert.ok(
          !claimedBy.has(job.id),
          `${job.id} claimed by ${claimedBy.get(job.id)} and ${runnerId}`,
        );
        claimedBy.set(job.id, runnerId);
        if (holding.has(job.conversation)) overlap = true;
        holding.add(job.conversation);
        order.set(job.conversation, [...(order.get(job.conversation) ?? []), job.id]);
        await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 3)));
        holding.delete(job.conversation);
        assert.ok(await completeJob(kv, job, runnerId, { state: "done" }));
      }));
    }
  };
  await Promise.all(Array.from({ length: 6 }, (_, i) => claimer(`r${i}`)));
  assert.deepEqual(claimedBy.size, 60, "every job claimed, once");
  assert.ok(!overlap, "never two jobs of one conversation at once");
  assert.deepEqual(order, expected, "each conversation in id order");
  assert.ok(new Set(claimedBy.values()).size > 1, "the claimers shared the work");
  assert.deepEqual(await countJobs(kv), { queued: 0, running: 0, done: 60, failed: 0, dead: 0 });
  assert.deepEqual(await keysUnder(kv, keys.readyPrefix()), 0, "no hint left behind");
});

Deno.test("a job of a user with nothing else waiting leaves no hint to clean up", async () => {
  using kv = await Deno.openKv(":memory:");
  for (let i = 0; i < 5; i++) await send(kv, `ww1:user${i}`, "hi", T0 + i);
  const jobs = await claimJobs(kv, "r1", T0 + 10, LEASE, { jobs: 5 });
  assert.deepEqual(jobs.length, 5);
  const wake = await kv.get(keys.wake());
  for (const job of jobs) assert.ok(await completeJob(kv, job, "r1", { state: "done" }));
  assert.deepEqual(await keysUnder(kv, keys.readyPrefix()), 0);
  assert.deepEqual(
    (await kv.get(keys.wake())).versionstamp,
    wake.versionstamp,
    "no needless wake-up",
  );
});

Deno.test("a hint dropped while its conversation is busy is not lost when the job ends meanwhile", async () => {
  using kv = await Deno.openKv(":memory:");
  await send(kv, "ww1:alice", "a1", T0);
  const a1 = (await claimNext(kv, "r1", T0, LEASE))!;
  let a2: JobRecord | undefined;
  let commits = 0;
  // The end of a1 reads alice's queue (empty), then, before its commit, a2 arrives and
  // another runner finds alice busy and drops a2's hint.
  const ok = await completeJob(kv, a1, "r1", {
    state: "done",
    now: T0 + 5,
    commit: async (build) => {
      if (commits++ === 0) {
        a2 = await send(kv, "ww1:alice", "a2", T0 + 1);
        assert.deepEqual(await claimNext(kv, "r2", T0 + 2, LEASE), null, "alice is busy");
        assert.deepEqual(await keysUnder(kv, keys.readyPrefix()), 0, "a2's hint was dropped");
      }
      return await build(kv.atomic()).commit();
    },
  });
  assert.ok(ok);
  assert.deepEqual(commits, 2, "the first commit failed on the marked lock and was retried");
  assert.deepEqual((await claimNext(kv, "r2", T0 + 6, LEASE))?.id, a2!.id);
});

Deno.test("a heartbeat keeps the lock's mark that a hint was dropped", async () => {
  using kv = await Deno.openKv(":memory:");
  await send(kv, "ww1:alice", "a1", T0);
  const a1 = (await claimNext(kv, "r1", T0, LEASE))!;
  const a2 = await send(kv, "ww1:alice", "a2", T0 + 1);
  assert.deepEqual(await claimNext(kv, "r2", T0 + 2, LEASE), null);
  assert.deepEqual((await heartbeat(kv, a1, "r1", T0 + 3, LEASE)).ok, true);
  assert.deepEqual((await kv.get(keys.conversationLock("ww1:alice"))).value, {
    jobId: a1.id,
    until: T0 + 3 + LEASE,
    waiting: true,
  });
  assert.ok(await completeJob(kv, a1, "r1", { state: "done", now: T0 + 4 }));
  assert.deepEqual((await claimNext(kv, "r2", T0 + 5, LEASE))?.id, a2.id);
});

/** Claims with claimJobs and returns the first job with its claim's versionstamp. */
async function claimWithStamp(kv: Deno.Kv, runner: string, now: number) {
  const stamps: string[] = [];
  const [job] = await claimJobs(kv, runner, now, LEASE, {
    onClaim: (_job, versionstamp) => void stamps.push(versionstamp),
  });
  assert.ok(job, `${runner} claimed nothing`);
  return { job, versionstamp: stamps[0] };
}

Deno.test("completeJob on the claim's versionstamp ends the job with the reply, reading neither", async () => {
  using kv = await Deno.openKv(":memory:");
  await send(kv, "ww1:alice", "a1", T0);
  const { job, versionstamp } = await claimWithStamp(kv, "r1", T0);
  assert.deepEqual((await kv.get(keys.job(job.id))).versionstamp, versionstamp);
  const reads: string[] = [];
  const watched = new Proxy(kv, {
    get(target, name) {
      if (name === "get" || name === "getMany") reads.push(name);
      const value = Reflect.get(target, name);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const items = plan.reply(job, { text: "hi alice", attachments: [] }, { markdown: false });
  assert.ok(
    await completeJob(watched, job, "r1", {
      state: "done",
      now: T0 + 5,
      versionstamp,
      extra: (op) => void plan.add(op, items),
    }),
  );
  assert.deepEqual(reads, [], "the job and its lock are not read again");
  assert.deepEqual((await getJob(kv, job.id))?.state, "done");
  assert.deepEqual((await outbox(kv)).map(textOf), ["hi alice"]);
  assert.deepEqual((await kv.get(keys.conversationLock("ww1:alice"))).value, null);
});

Deno.test("completeJob on a stale versionstamp reads again: a dropped hint and a lost lease still count", async () => {
  using kv = await Deno.openKv(":memory:");
  // A hint dropped since the claim marked the lock: the end must still free a2.
  await send(kv, "ww1:alice", "a1", T0);
  const a1 = await claimWithStamp(kv, "r1", T0);
  const a2 = await send(kv, "ww1:alice", "a2", T0 + 1);
  assert.deepEqual(await claimNext(kv, "r2", T0 + 2, LEASE), null, "alice is busy");
  assert.ok(
    await completeJob(kv, a1.job, "r1", {
      state: "done",
      now: T0 + 3,
      versionstamp: a1.versionstamp,
    }),
  );
  assert.deepEqual((await claimNext(kv, "r2", T0 + 4, LEASE))?.id, a2.id);

  // A lease lost since the claim (swept, claimed by r3): no end, no reply.
  using other = await Deno.openKv(":memory:");
  await send(other, "ww1:bob", "b1", T0);
  const b1 = await claimWithStamp(other, "r1", T0 + 10);
  assert.deepEqual((await sweepExpired(other, T0 + 10 + LEASE + 1, 3)).requeued.length, 1);
  assert.deepEqual((await claimNext(other, "r3", T0 + 10 + LEASE + 2, LEASE))?.id, b1.job.id);
  const lost = await completeJob(other, b1.job, "r1", {
    state: "done",
    versionstamp: b1.versionstamp,
    extra: (op) => void op.set(["reply-of-r1"], true),
  });
  assert.deepEqual(lost, false);
  assert.deepEqual((await other.get(["reply-of-r1"])).value, null);
  assert.deepEqual((await getJob(other, b1.job.id))?.lease?.owner, "r3");
});

Deno.test("claimJobs commits a claim only once admitted and gives the slot back when it fails", async () => {
  using kv = await Deno.openKv(":memory:");
  const job = await send(kv, "ww1:alice", "a1", T0);
  const calls: string[] = [];
  const refuse = {
    acquire: () => (calls.push("acquire"), Promise.resolve(false)),
    release: () => void calls.push("release"),
  };
  assert.deepEqual(await claimJobs(kv, "r1", T0, LEASE, { admit: refuse }), []);
  assert.deepEqual((await getJob(kv, job.id))?.state, "queued", "not admitted: left queued");
  assert.deepEqual(calls, ["acquire"]);

  // Admitted, but another runner takes the job between the read and the commit.
  calls.length = 0;
  const admit = {
    acquire: async () => {
      calls.push("acquire");
      assert.ok(await claimNext(kv, "r2", T0, LEASE), "r2 takes it first");
      return true;
    },
    release: () => void calls.push("release"),
  };
  assert.deepEqual(await claimJobs(kv, "r1", T0, LEASE, { admit }), []);
  assert.deepEqual(calls, ["acquire", "release"]);
  assert.deepEqual((await getJob(kv, job.id))?.lease?.owner, "r2");
});

Deno.test("claimJobs skips conversations another call of the same caller is claiming", async () => {
  using kv = await Deno.openKv(":memory:");
  await send(kv, "ww1:alice", "a1", T0);
  const b1 = await send(kv, "ww1:bob", "b1", T0 + 1);
  const claiming = new Set(["ww1:alice"]);
  const claimed = await claimJobs(kv, "r1", T0, LEASE, { jobs: 2, claiming });
  assert.deepEqual(claimed.map((job) => job.id), [b1.id]);
  assert.deepEqual([...claiming], ["ww1:alice"], "only its own entries are removed");
  assert.deepEqual(await keysUnder(kv, keys.readyPrefix()), 1, "alice's hint stays");
});

Deno.test("claimJobs rejects counts that are not non-negative integers", async () => {
  using kv = await Deno.openKv(":memory:");
  await assert.rejects(() => claimJobs(kv, "r1", T0, LEASE, { jobs: -1 }), {
    name: "RangeError",
    message: /'jobs' must be a non-negative integer: current value is -1/,
  });
  await assert.rejects(() => claimJobs(kv, "r1", T0, LEASE, { commands: 1.5 }), {
    name: "RangeError",
    message: /'commands' must be a non-negative integer/,
  });
});

Deno.test("countJobs counts only the states asked for", async () => {
  using kv = await Deno.openKv(":memory:");
  await send(kv, "ww1:alice", "a1", T0);
  await send(kv, "ww1:bob", "b1", T0 + 1);
  const claimed = await claimNext(kv, "r1", T0 + 2, LEASE);
  assert.ok(await completeJob(kv, claimed!, "r1", { state: "done", now: T0 + 3 }));
  assert.deepEqual(await countJobs(kv, ["queued", "running", "dead"]), {
    queued: 1,
    running: 0,
    dead: 0,
  });
  assert.deepEqual(await countJobs(kv), { queued: 1, running: 0, done: 1, failed: 0, dead: 0 });
});

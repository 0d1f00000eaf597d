import assert from "node:assert/strict";
import { serialize } from "node:v8";
import type { AccessConfig, AppConfig } from "../../src/config/types.ts";
import { importAppCrypto } from "../../src/crypto/mod.ts";
import { startGateway } from "../../src/gateway.ts";
import {
  BURST_MEMBERS,
  createGroupCommit,
  estimateValueBytes,
  type GroupCommit,
} from "../../src/store/group_commit.ts";
import type { InboundMessage } from "../../src/records/message.ts";
import { createIntake } from "../../src/intake/record.ts";
import { listJobs } from "../../src/records/job_store/mod.ts";
import { setLogSink } from "../../src/log.ts";
import { sealCallback, textMessage } from "../../src/simulator/seal.ts";
import { randomApp, testConfig } from "../fakes/config.ts";

// Keep test output readable: the 503 test logs errors on purpose.
const logged: string[] = [];
setLogSink({ format: "json", level: "debug", write: (line) => logged.push(line) });

const ACCESS: AccessConfig = {
  allowAll: true,
  allowedUsers: [],
  refusalNoticeSeconds: 0,
  refusalNoticeText: "",
};

function text(app: AppConfig, msgId: string, userId = "lisi"): InboundMessage {
  return {
    type: "text",
    content: `hello ${msgId}`,
    msgId,
    corpId: app.corpId,
    userId,
    createTime: 1_700_000_000,
    agentId: app.agentId,
  };
}

/** Counts the checks of every commit made through `kv.atomic()`; `fail` decides failures. */
function spyKv(
  kv: Deno.Kv,
  fail?: (checks: number) => Error | undefined,
): { kv: Deno.Kv; commits: number[] } {
  const commits: number[] = [];
  const spied = new Proxy(kv, {
    get(target, name) {
      if (name !== "atomic") {
        const value = Reflect.get(target, name, target);
        return typeof value === "function" ? value.bind(target) : value;
      }
      return () => {
        const op = target.atomic();
        let checks = 0;
        const check = op.check.bind(op);
        op.check = (...list: Deno.AtomicCheck[]) => {
          checks += list.length;
          return check(...list);
        };
        const commit = op.commit.bind(op);
        op.commit = () => {
          commits.push(checks);
          const error = fail?.(checks);
          if (!error) return commit();
          // A failing disk answers after a moment, as a real one does.
          return new Promise((_, reject) => setTimeout(() => reject(error), 2));
        };
        return op;
      };
    },
  });
  return { kv: spied, commits };
}

/** `count` members at once, member i checking that `[prefix, i]` is new and setting it to i. */
function claimAll(group: GroupCommit, prefix: string, count: number) {
  return Promise.all(
    Array.from(
      { length: count },
      (_, i) =>
        group((op) => op.check({ key: [prefix, i], versionstamp: null }).set([prefix, i], i)),
    ),
  );
}

Deno.test("concurrent operations share one commit and each sees it succeed", async () => {
  using kv = await Deno.openKv(":memory:");
  const group = createGroupCommit(kv);
  const results = await claimAll(group, "k", 20);
  assert.ok(results.every((r) => r.ok));
  assert.equal(group.stats().commits, 1);
  assert.equal(group.stats().largestGroup, 20);
  for (let i = 0; i < 20; i++) assert.equal((await kv.get(["k", i])).value, i);
});

Deno.test("operations arriving during a commit go together into the next one", async () => {
  using kv = await Deno.openKv(":memory:");
  const group = createGroupCommit(kv);
  const first = group((op) => op.set(["first"], 1));
  // Submitted after the first commit has started (a later macrotask).
  await new Promise((resolve) => setTimeout(resolve, 0));
  const later = Array.from({ length: 5 }, (_, i) => group((op) => op.set(["later", i], i)));
  assert.ok((await first).ok);
  assert.ok((await Promise.all(later)).every((r) => r.ok));
  const stats = group.stats();
  assert.ok(stats.commits <= 3, `5 later operations took ${stats.commits - 1} commits`);
});

/**
 * A group committer whose commits wait for `release()`; `groups` lists, per
 * commit, the keys `["k", name]` it wrote, in commit order.
 */
function gatedGroup(kv: Deno.Kv, clock: { t: number }, urgentGraceMs = 0) {
  const groups: string[][] = [];
  const gates: (() => void)[] = [];
  const group = createGroupCommit(kv, {
    now: () => clock.t,
    urgentGraceMs,
    commit: async (build) => {
      await new Promise<void>((resolve) => gates.push(resolve));
      const names = async () =>
        (await Array.fromAsync(kv.list<string>({ prefix: ["k"] }))).map((e) => e.value);
      const before = new Set(await names());
      const result = await build().commit();
      groups.push((await names()).filter((name) => !before.has(name)).toSorted());
      return result;
    },
  });
  const waitingCommit = async () => {
    while (gates.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  };
  /** Lets the waiting commit go, then waits until the next group is formed (if `more`). */
  const release = async (more = true) => {
    await waitingCommit();
    gates.shift()!();
    if (more) await waitingCommit();
  };
  const set = (name: string) => (op: Deno.AtomicOperation) => op.set(["k", name], name);
  return { group, groups, release, set, waitingCommit };
}

Deno.test("pipeline operations wait while callbacks' are queued, then go out", async () => {
  using kv = await Deno.openKv(":memory:");
  const clock = { t: 0 };
  const { group, groups, release, set } = gatedGroup(kv, clock);
  const all = [group(set("u1"))]; // in flight
  await new Promise((resolve) => setTimeout(resolve, 1));
  all.push(group.background(set("b1")), group(set("u2")), group.background(set("b2")));
  await release(); // u1
  all.push(group(set("u3"))); // arrives while u2 commits
  await release(); // u2 (b1 and b2 wait: callbacks are queued)
  await release(); // u3
  await release(false); // b1 and b2: no callback waits any more
  assert.ok((await Promise.all(all)).every((r) => r.ok));
  assert.deepEqual(groups, [["u1"], ["u2"], ["u3"], ["b1", "b2"]]);
  const stats = group.stats();
  assert.deepEqual([stats.members, stats.backgroundMembers, stats.backgroundAged], [5, 2, 0]);
});

Deno.test("a pipeline operation that waited backgroundWaitMs goes out with the callbacks", async () => {
  using kv = await Deno.openKv(":memory:");
  const clock = { t: 0 };
  const { group, groups, release, set } = gatedGroup(kv, clock);
  const all = [group(set("u1"))];
  await new Promise((resolve) => setTimeout(resolve, 1));
  all.push(group.background(set("b1")));
  clock.t = 60;
  all.push(group.background(set("b2")), group(set("u2")));
  clock.t = 100; // b1 has waited 100 ms (the default), b2 40 ms
  await release();
  all.push(group(set("u3")));
  clock.t = 160; // b2 has waited 100 ms too
  await release();
  await release(false);
  assert.ok((await Promise.all(all)).every((r) => r.ok));
  assert.deepEqual(groups, [["u1"], ["b1", "u2"], ["b2", "u3"]].map((g) => g.toSorted()));
  assert.equal(group.stats().backgroundAged, 2, "each went out with callbacks once aged");
});

Deno.test("after a burst of callbacks, pipeline operations give the next callbacks a moment", async () => {
  using kv = await Deno.openKv(":memory:");
  const clock = { t: 0 };
  const { group, groups, release, set, waitingCommit } = gatedGroup(kv, clock, 3);
  const settle = () => new Promise((resolve) => setTimeout(resolve, 5));
  const all = [group(set("u0"))];
  await new Promise((resolve) => setTimeout(resolve, 1));
  const burst = Array.from({ length: BURST_MEMBERS }, (_, i) => `u${i + 1}`);
  all.push(...burst.map((name) => group(set(name))), group.background(set("b1")));
  await release(); // u0; the burst is queued, so b1 waits
  await release(false); // the burst commits: b1 now waits out the grace
  await settle();
  assert.deepEqual(groups, [["u0"], burst], "b1 waits while the grace lasts");
  all.push(group(set("u5"))); // the next callback, within the grace
  await release(false);
  await settle();
  assert.deepEqual(groups.at(-1), ["u5"]);
  clock.t = 3; // the grace is over
  await waitingCommit();
  await release(false);
  await settle();
  assert.deepEqual(groups.at(-1), ["b1"]);

  // After a commit of a lone callback (no burst), the pipeline goes at once.
  all.push(group(set("u6")));
  await waitingCommit();
  all.push(group.background(set("b2")));
  await release();
  await release(false);
  assert.ok((await Promise.all(all)).every((r) => r.ok));
  assert.deepEqual(groups.slice(-2), [["u6"], ["b2"]]);
  assert.throws(
    () => createGroupCommit(kv, { urgentGraceMs: Number.NaN }),
    /'urgentGraceMs' must be a non-negative number: current value is NaN/,
  );
});

Deno.test("the committer's busy time counts the time a commit is in flight", async () => {
  using kv = await Deno.openKv(":memory:");
  const clock = { t: 1000 };
  const { group, release, set } = gatedGroup(kv, clock);
  const first = group(set("a"));
  await new Promise((resolve) => setTimeout(resolve, 1));
  clock.t += 7;
  assert.equal(group.stats().busyMs, 7, "in flight now");
  await release(false);
  await first;
  await new Promise((resolve) => setTimeout(resolve, 1)); // the committer's own bookkeeping
  clock.t += 50; // idle
  assert.equal(group.stats().busyMs, 7);
  assert.throws(
    () => createGroupCommit(kv, { backgroundWaitMs: -1 }),
    /'backgroundWaitMs' must be a non-negative number: current value is -1/,
  );
});

Deno.test("a key every member writes is written once per group, with the last value", async () => {
  using real = await Deno.openKv(":memory:");
  let sets = 0;
  const kv = new Proxy(real, {
    get(target, name) {
      if (name !== "atomic") {
        const value = Reflect.get(target, name, target);
        return typeof value === "function" ? value.bind(target) : value;
      }
      return () => {
        const op = target.atomic();
        const set = op.set.bind(op);
        op.set = (...args: Parameters<typeof set>) => {
          sets++;
          return set(...args);
        };
        return op;
      };
    },
  });
  const group = createGroupCommit(kv);
  await Promise.all(
    Array.from({ length: 10 }, (_, i) => group((op) => op.set(["job", i], i).set(["wake"], i))),
  );
  assert.equal(group.stats().commits, 1);
  assert.equal(sets, 11); // ten jobs, one wake-up
  assert.equal((await real.get(["wake"])).value, 9);
  for (let i = 0; i < 10; i++) assert.equal((await real.get(["job", i])).value, i);

  // A sum reads what was set before it in the group: nothing is dropped around it.
  await Promise.all([
    group((op) => op.set(["n"], new Deno.KvU64(5n))),
    group((op) => op.sum(["n"], 1n)),
    group((op) => op.set(["m"], new Deno.KvU64(1n))),
    group((op) => op.sum(["m"], 1n)),
    group((op) => op.set(["m"], new Deno.KvU64(10n))),
  ]);
  assert.equal((await real.get<Deno.KvU64>(["n"])).value?.value, 6n);
  assert.equal((await real.get<Deno.KvU64>(["m"])).value?.value, 10n);
});

Deno.test("two operations checking the same key never share a group: exactly one wins", async () => {
  using kv = await Deno.openKv(":memory:");
  const group = createGroupCommit(kv);
  const claim = (who: string) =>
    group((op) => op.check({ key: ["claim"], versionstamp: null }).set(["claim"], who));
  const results = await Promise.all([claim("a"), claim("b"), claim("c")]);
  assert.equal(results.filter((r) => r.ok).length, 1);
  assert.equal((await kv.get(["claim"])).value, ["a", "b", "c"][results.findIndex((r) => r.ok)]);
});

Deno.test("a failed check in a group fails only its own member", async () => {
  using kv = await Deno.openKv(":memory:");
  await kv.set(["taken"], "earlier");
  const group = createGroupCommit(kv);
  const results = await Promise.all([
    group((op) => op.set(["a"], 1)),
    group((op) => op.check({ key: ["taken"], versionstamp: null }).set(["taken"], "late")),
    group((op) => op.set(["b"], 2)),
  ]);
  assert.deepEqual(results.map((r) => r.ok), [true, false, true]);
  assert.equal((await kv.get(["taken"])).value, "earlier");
  assert.equal((await kv.get(["a"])).value, 1);
  assert.equal((await kv.get(["b"])).value, 2);
  assert.equal(group.stats().fallbacks, 1);
});

Deno.test("a KV failure rejects every member of the group with the error", async () => {
  using real = await Deno.openKv(":memory:");
  const { kv, commits } = spyKv(real, () => new Error("disk I/O error"));
  const group = createGroupCommit(kv);
  const outcomes = await Promise.allSettled(
    Array.from({ length: 4 }, (_, i) => group((op) => op.set(["k", i], i))),
  );
  for (const outcome of outcomes) {
    assert.equal(outcome.status, "rejected");
    assert.equal((outcome as PromiseRejectedResult).reason.message, "disk I/O error");
  }
  assert.equal(commits.length, 5); // the group, then each member alone
  assert.equal((await real.get(["k", 0])).versionstamp, null);
});

Deno.test("groups stay within the check, mutation and size limits", async () => {
  using kv = await Deno.openKv(":memory:");
  const byChecks = createGroupCommit(kv, { maxChecks: 3 });
  await Promise.all(
    Array.from(
      { length: 10 },
      (_, i) => byChecks((op) => op.check({ key: ["c", i], versionstamp: null }).set(["c", i], i)),
    ),
  );
  assert.equal(byChecks.stats().largestGroup, 3);

  const byMutations = createGroupCommit(kv, { maxMutations: 4 });
  await Promise.all(
    Array.from(
      { length: 6 },
      (_, i) => byMutations((op) => op.set(["m", i], 1).set(["n", i], 1)),
    ),
  );
  assert.equal(byMutations.stats().largestGroup, 2);

  const big = "x".repeat(40_000);
  const bySize = createGroupCommit(kv);
  const results = await Promise.all(
    Array.from({ length: 40 }, (_, i) => bySize((op) => op.set(["big", i], big))),
  );
  assert.ok(results.every((r) => r.ok));
  const stats = bySize.stats();
  assert.ok(
    stats.largestGroup <= 16,
    `a group of ${stats.largestGroup} × 40 KB would pass 640 KiB`,
  );
  assert.equal(stats.fallbacks, 0);
});

Deno.test("a limit the store enforces halves the groups and every member still commits", async () => {
  using real = await Deno.openKv(":memory:");
  // A store that allows 4 checks per commit (KV Connect allows 10, local SQLite 100).
  const { kv } = spyKv(
    real,
    (checks) => checks > 4 ? new TypeError("Too many checks (max 4)") : undefined,
  );
  const group = createGroupCommit(kv);
  const results = await claimAll(group, "c", 12);
  assert.ok(results.every((r) => r.ok));
  assert.ok(group.stats().cap <= 6, `cap is still ${group.stats().cap}`);
  const later = await claimAll(group, "d", 8);
  assert.ok(later.every((r) => r.ok));
  for (let i = 0; i < 12; i++) assert.equal((await real.get(["c", i])).value, i);
});

Deno.test("a builder that throws or commits by itself fails alone", async () => {
  using kv = await Deno.openKv(":memory:");
  const group = createGroupCommit(kv);
  const good = group((op) => op.set(["good"], 1));
  await assert.rejects(
    group(() => {
      throw new Error("no job for you");
    }),
    /no job for you/,
  );
  await assert.rejects(
    group((op) => {
      op.commit();
      return op;
    }),
    /Cannot commit inside a group-commit builder/,
  );
  assert.ok((await good).ok);
  assert.equal((await kv.get(["good"])).value, 1);
});

Deno.test("intake: concurrent copies of one message in a group make exactly one job", async () => {
  using kv = await Deno.openKv(":memory:");
  const app = randomApp();
  const intake = createIntake({ kv, access: ACCESS, groupCommit: true });
  const copies = Array.from({ length: 8 }, () => intake(app, text(app, "777"), ""));
  const others = Array.from({ length: 8 }, (_, i) => intake(app, text(app, `9${i}`), ""));
  const results = await Promise.all([...copies, ...others]);
  const ofCopies = results.slice(0, 8);
  assert.equal(ofCopies.filter((r) => r.outcome === "recorded").length, 1);
  assert.equal(ofCopies.filter((r) => r.outcome === "duplicate").length, 7);
  const jobId = ofCopies.find((r) => r.outcome === "recorded")!.jobId;
  assert.ok(ofCopies.every((r) => r.jobId === jobId), "every duplicate names the one job");
  assert.ok(results.slice(8).every((r) => r.outcome === "recorded"));
  const jobs = await listJobs(kv, { state: "queued", limit: 100 });
  assert.equal(jobs.length, 9);
  assert.equal(
    jobs.filter((j) => j.message.type === "text" && j.message.msgId === "777").length,
    1,
  );
});

Deno.test("intake: a retry of a message recorded earlier is a duplicate; its group still records", async () => {
  using kv = await Deno.openKv(":memory:");
  const app = randomApp();
  const intake = createIntake({ kv, access: ACCESS, groupCommit: true });
  const first = await intake(app, text(app, "1"), "");
  assert.equal(first.outcome, "recorded");
  const results = await Promise.all([
    intake(app, text(app, "2"), ""),
    intake(app, text(app, "1"), ""), // WeCom's retry
    intake(app, text(app, "3"), ""),
  ]);
  assert.deepEqual(results.map((r) => r.outcome), ["recorded", "duplicate", "recorded"]);
  assert.equal(results[1].jobId, first.jobId);
  assert.equal((await listJobs(kv, { state: "queued", limit: 100 })).length, 3);
});

Deno.test("intake: mixed apps in one group, the same MsgId in two apps makes two jobs", async () => {
  using kv = await Deno.openKv(":memory:");
  const apps = [randomApp({ name: "a" }), randomApp({ name: "b" }), randomApp({ name: "c" })];
  const intake = createIntake({ kv, access: ACCESS, groupCommit: true });
  const results = await Promise.all([
    ...apps.map((app) => intake(app, text(app, "42"), "")),
    ...apps.map((app, i) => intake(app, text(app, `5${i}`, `user${i}`), "")),
  ]);
  assert.ok(results.every((r) => r.outcome === "recorded"));
  const jobs = await listJobs(kv, { state: "queued", limit: 100 });
  assert.equal(jobs.length, 6);
  for (const app of apps) {
    const own = jobs.filter((j) => j.app === app.name);
    assert.equal(own.length, 2);
    assert.ok(own.every((j) => j.corpId === app.corpId && j.agentId === app.agentId));
  }
  const forB = jobs.find((j) => j.app === "b" && j.userId === "user1")!;
  assert.equal(forB.conversation, `${apps[1].corpId}:user1`);
});

Deno.test("HTTP: when KV fails, every callback of the group is answered 503 and none is recorded", async () => {
  const real = await Deno.openKv(":memory:");
  const { kv, commits } = spyKv(real, () => new Error("database disk image is malformed"));
  const apps = [randomApp({ name: "a" }), randomApp({ name: "b" })];
  const gateway = await startGateway(await testConfig(apps), { role: "edge", kv });
  try {
    const base = `http://127.0.0.1:${gateway.address!.port}/wecom/callback`;
    const sealed = await Promise.all(Array.from({ length: 6 }, async (_, i) => {
      const app = apps[i % 2];
      const crypto = await importAppCrypto(app.encodingAesKey, app.token, app.corpId);
      const xml = textMessage({
        corpId: app.corpId,
        agentId: app.agentId,
        userId: "lisi",
        content: "hi",
        msgId: String(1000 + i),
      });
      return await sealCallback(crypto, xml, { corpId: app.corpId, agentId: app.agentId });
    }));
    const responses = await Promise.all(
      sealed.map(({ query, body }) => fetch(`${base}?${query}`, { method: "POST", body })),
    );
    for (const response of responses) {
      assert.equal(response.status, 503);
      await response.body?.cancel();
    }
    assert.ok(Math.max(...commits) > 1, "the callbacks were committed as a group first");
    assert.equal((await listJobs(real, { state: "queued" })).length, 0);
  } finally {
    await gateway.stop();
    real.close();
  }
});

Deno.test("intake without grouping commits each callback alone, duplicates still exact", async () => {
  using real = await Deno.openKv(":memory:");
  const { kv, commits } = spyKv(real);
  const app = randomApp();
  const intake = createIntake({ kv, access: ACCESS, groupCommit: false });
  const results = await Promise.all([
    intake(app, text(app, "1"), ""),
    intake(app, text(app, "1"), ""),
    intake(app, text(app, "2"), ""),
  ]);
  assert.deepEqual(results.map((r) => r.outcome).sort(), ["duplicate", "recorded", "recorded"]);
  assert.ok(commits.every((checks) => checks === 1));
});

Deno.test("value size estimates are upper bounds of the V8 serialization KV stores", () => {
  const job = {
    id: "01JBENCH",
    conversation: "ww1:lisi",
    message: { type: "text", content: "请帮我总结一下今天的会议纪要。".repeat(200), msgId: "4561" },
    receivedAt: Date.now(),
    state: "queued",
    attempts: 0,
  };
  const values: unknown[] = [
    job,
    "a".repeat(1000),
    "é".repeat(1000),
    "字".repeat(1000),
    "",
    [1, 2.5, -1e300, true, null, undefined],
    { bytes: new Uint8Array(300), nested: { deep: [{ a: "b" }, ["c"]] } },
    2n ** 200n,
    new Map([["a", 1], ["b", 2]]),
    new Set(["x", "y"]),
  ];
  for (const value of values) {
    const actual = serialize(value).length;
    assert.ok(
      estimateValueBytes(value) >= actual,
      `${String(value).slice(0, 20)}: estimate ${estimateValueBytes(value)} < ${actual}`,
    );
  }
  // Not wildly above either, or groups of CJK messages would be needlessly small.
  assert.ok(estimateValueBytes(job) < serialize(job).length * 1.2);
});

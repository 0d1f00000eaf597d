import assert from "node:assert/strict";
import type { AppDeliveryStatus } from "../../src/records/app_status.ts";
import { listDeadLetters, listOutbox } from "../../src/records/outbox_queries.ts";
import type { OutboxItem } from "../../src/records/outbox_item.ts";
import type { JobRecord } from "../../src/records/job.ts";
import { getJob } from "../../src/records/job_store/mod.ts";
import { keys } from "../../src/store/keys.ts";
import { CORP, idAt, jobsCli as runJobs, storeJob, textJob } from "./jobs_fixtures.ts";
import { runCli, workdir } from "./run_cli.ts";

const DAY = 86_400_000;
/** Message content that must never be shown. */
const PRIVATE = "the private words of a user";

/** Enqueues a job of `user` at `at`, then (if asked) ends it in `end.state`. */
function job(
  kv: Deno.Kv,
  user: string,
  at: number,
  end?: { state: "done" | "failed" | "dead"; error?: string },
): Promise<JobRecord> {
  return storeJob(kv, textJob(user, `${PRIVATE} (${user})`, at), end);
}

/** A dead letter, written as delivery writes one. */
async function deadLetter(kv: Deno.Kv, user: string, at: number, lastError: string) {
  const item: OutboxItem = {
    id: idAt(at),
    conversation: `${CORP}:${user}`,
    app: "default",
    userId: user,
    jobId: "",
    purpose: "reply",
    message: { msgtype: "text", content: `${PRIVATE}: a reply` },
    state: "dead",
    attempts: 8,
    notBefore: 0,
    createdAt: at,
    lastError,
  };
  assert.ok(
    (await kv.atomic().set(keys.outbox(item.id), item).set(keys.deadLetter(item.id), item.id)
      .commit()).ok,
  );
  return item;
}

/** A KV file with jobs in every state, a pending reply, two dead letters and an app problem. */
async function store() {
  const dir = await workdir();
  const path = `${dir}/kv.sqlite3`;
  const kv = await Deno.openKv(path);
  const now = Date.now();
  const old = now - 10 * DAY;
  const jobs = {
    oldDone: await job(kv, "zhangsan", old, { state: "done" }),
    oldFailed: await job(kv, "lisi", old + 1, {
      state: "failed",
      error: "agent timed out after 30 min",
    }),
    recentDone: await job(kv, "wangwu", now - 60_000, { state: "done" }),
    queued: await job(kv, "zhaoliu", now - 5000),
  };
  const dead = {
    old: await deadLetter(kv, "lisi", old, "errcode 60020: not allow to access from your ip"),
    recent: await deadLetter(kv, "wangwu", now - 1000, "errcode 81013: user not in visible range"),
  };
  const pending: OutboxItem = {
    ...dead.recent,
    id: idAt(now),
    state: "pending",
    attempts: 0,
    lastError: undefined,
  };
  await kv.set(keys.outbox(pending.id), pending);
  const status: AppDeliveryStatus = {
    app: "default",
    ok: false,
    problem: "ip_not_trusted",
    errcode: 60020,
    message: "WeCom refused app 'default' because this server's IP is not trusted",
    at: now - 120_000,
  };
  await kv.set(keys.appStatus("default"), status);
  kv.close();
  return {
    dir,
    path,
    jobs,
    dead,
    env: { WECOM_GATEWAY_KV: path },
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
}

/** Runs the command in-process and checks that no message content reached its output. */
async function jobsCli(args: string[], env: Record<string, string>, cwd: string) {
  const result = await runJobs(args, env, cwd);
  assert.ok(
    !(result.stdout + result.stderr).includes(PRIVATE),
    "message content reached the output",
  );
  return result;
}

Deno.test("jobs --help (subprocess) lists the subcommands and the locking note", async () => {
  const result = await runCli(["jobs", "--help"]);
  assert.equal(result.code, 0);
  for (const sub of ["list", "stats", "dead", "retry", "purge"]) {
    assert.match(result.stdout, new RegExp(sub));
  }
  assert.match(result.stdout, /database is locked/);
});

Deno.test("jobs (subprocess) lists the newest jobs as a table without message content", async () => {
  const fixture = await store();
  try {
    const result = await runCli(["jobs"], { env: fixture.env, cwd: fixture.dir });
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split("\n");
    assert.match(lines[0], /^id +state +reply +conversation +app +type +age +attempts +error$/);
    assert.equal(lines.length, 5);
    assert.match(
      lines[1],
      new RegExp(`^${fixture.jobs.queued.id} +queued +- +${CORP}:zhaoliu +default +text +\\ds +0`),
    );
    assert.match(
      result.stdout,
      new RegExp(`${fixture.jobs.oldFailed.id} +failed .* 10d +1 +agent timed out after 30 min`),
    );
    // No apps are configured here: the store comes from WECOM_GATEWAY_KV, with a note.
    assert.match(result.stderr, /using WECOM_GATEWAY_KV/);
    assert.ok(!result.stdout.includes(PRIVATE) && !result.stderr.includes(PRIVATE));
  } finally {
    await fixture.cleanup();
  }
});

Deno.test("jobs list shows where each job's reply stands: pending until WeCom has it, then sent; dead", async () => {
  const dir = await workdir();
  const path = `${dir}/kv.sqlite3`;
  const kv = await Deno.openKv(path);
  const now = Date.now();
  const waiting = await job(kv, "zhangsan", now - 40_000, { state: "done" });
  const delivered = await job(kv, "lisi", now - 30_000, { state: "done" });
  const givenUp = await job(kv, "wangwu", now - 20_000, {
    state: "failed",
    error: "agent crashed",
  });
  const silent = await job(kv, "zhaoliu", now - 10_000, { state: "done" });
  const queued = await job(kv, "sunqi", now - 5_000);
  const item = (of: JobRecord, state: OutboxItem["state"], purpose: OutboxItem["purpose"]) => {
    const value: OutboxItem = {
      id: idAt(of.receivedAt + 2000),
      conversation: of.conversation,
      app: "default",
      userId: of.userId,
      jobId: of.id,
      purpose,
      message: { msgtype: "text", content: `${PRIVATE}: a reply` },
      state,
      attempts: state === "pending" ? 0 : 1,
      notBefore: 0,
      createdAt: of.receivedAt + 2000,
    };
    return kv.set(keys.outbox(value.id), value);
  };
  await item(waiting, "sent", "reply"); // the first chunk went out, the second waits
  await item(waiting, "pending", "reply");
  await item(delivered, "sent", "reply");
  await item(delivered, "sent", "recall"); // the working notice's recall does not count
  await item(givenUp, "dead", "error");
  await item(silent, "pending", "working"); // a notice is not the reply
  kv.close();
  try {
    const env = { WECOM_GATEWAY_KV: path };
    const table = await jobsCli(["list"], env, dir);
    assert.equal(table.code, 0, table.stderr);
    const replyOf = (id: string) =>
      table.stdout.split("\n").find((line) => line.startsWith(id))?.split(/ +/)[2];
    assert.deepEqual(
      [waiting, delivered, givenUp, silent, queued].map((one) => replyOf(one.id)),
      ["pending", "sent", "dead", "none", "-"],
    );
    const json = JSON.parse((await jobsCli(["list", "--json"], env, dir)).stdout);
    assert.equal(json.find((one: { id: string }) => one.id === waiting.id).reply, "pending");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("jobs list filters by state and limit, and --json carries no content", async () => {
  const fixture = await store();
  try {
    const done = await jobsCli(["list", "--state", "done"], fixture.env, fixture.dir);
    assert.equal(done.code, 0);
    assert.equal(done.stdout.trim().split("\n").length, 3);
    assert.ok(!done.stdout.includes("queued"));

    const limited = await jobsCli(["list", "--limit", "1"], fixture.env, fixture.dir);
    assert.match(limited.stdout, /\(the newest 1; --limit N for more/);

    const json = await jobsCli(["list", "--state", "failed", "--json"], fixture.env, fixture.dir);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.length, 1);
    assert.deepEqual(
      { id: parsed[0].id, state: parsed[0].state, type: parsed[0].type, error: parsed[0].error },
      {
        id: fixture.jobs.oldFailed.id,
        state: "failed",
        type: "text",
        error: "agent timed out after 30 min",
      },
    );
    assert.equal(parsed[0].message, undefined);

    const none = await jobsCli(["list", "--state", "dead"], fixture.env, fixture.dir);
    assert.match(none.stdout, /No dead jobs in/);
  } finally {
    await fixture.cleanup();
  }
});

Deno.test("jobs stats counts jobs, outbox and dead letters and shows the app's problem, alongside an open KV", async () => {
  const fixture = await store();
  const gatewayKv = await Deno.openKv(fixture.path); // as a running gateway would hold it
  try {
    const text = await jobsCli(["stats"], fixture.env, fixture.dir);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /Jobs: +queued 1, running 0, done 2, failed 1, dead 0/);
    assert.match(text.stdout, /Outbox: +1 pending, 0 sent, 2 dead/);
    assert.match(text.stdout, /Dead letters: +2 \(see 'wecom-gateway jobs dead'/);
    assert.match(
      text.stdout,
      /default +PROBLEM +ip_not_trusted 60020: WeCom refused app 'default'.* \(2m ago\)/,
    );

    const json = JSON.parse((await jobsCli(["stats", "--json"], fixture.env, fixture.dir)).stdout);
    assert.deepEqual(json.jobs, { queued: 1, running: 0, done: 2, failed: 1, dead: 0 });
    assert.deepEqual(json.outbox, { pending: 1, sent: 0, dead: 2 });
    assert.equal(json.deadLetters, 2);
    assert.equal(json.apps[0].errcode, 60020);
  } finally {
    gatewayKv.close();
    await fixture.cleanup();
  }
});

Deno.test("jobs dead lists dead letters with their last error; retry queues one again", async () => {
  const fixture = await store();
  try {
    const dead = await jobsCli(["dead"], fixture.env, fixture.dir);
    assert.equal(dead.code, 0);
    assert.match(
      dead.stdout,
      /^id +conversation +app +purpose +attempts +age +first try +last try +why$/m,
    );
    // A dead letter written before reasons were recorded shows its last error.
    assert.match(
      dead.stdout,
      new RegExp(
        `${fixture.dead.old.id} +${CORP}:lisi +default +reply +8 +10d +- +- +errcode 60020`,
      ),
    );
    assert.match(dead.stdout, /jobs retry --all/);
    const json = JSON.parse((await jobsCli(["dead", "--json"], fixture.env, fixture.dir)).stdout);
    assert.deepEqual(json.map((item: { id: string }) => item.id), [
      fixture.dead.old.id,
      fixture.dead.recent.id,
    ]);
    assert.equal(json[0].msgtype, "text");

    const retry = await jobsCli(["retry", fixture.dead.old.id], fixture.env, fixture.dir);
    assert.equal(retry.code, 0, retry.stderr);
    assert.match(
      retry.stdout,
      new RegExp(`${fixture.dead.old.id}: queued again as \\w+ \\(${CORP}:lisi, reply\\)`),
    );
    assert.match(retry.stdout, /1 of 1 queued again/);

    const kv = await Deno.openKv(fixture.path);
    try {
      assert.deepEqual((await listDeadLetters(kv)).map((item) => item.id), [
        fixture.dead.recent.id,
      ]);
      const pending = await listOutbox(kv, { state: "pending" });
      assert.equal(pending.length, 2);
      assert.ok(
        pending.some((item) => item.conversation === `${CORP}:lisi` && item.attempts === 0),
      );
    } finally {
      kv.close();
    }

    const unknown = await jobsCli(["retry", "nope"], fixture.env, fixture.dir);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /nope: Cannot retry dead letter 'nope'/);
  } finally {
    await fixture.cleanup();
  }
});

Deno.test("jobs retry --all empties the dead letters", async () => {
  const fixture = await store();
  try {
    const result = await jobsCli(["retry", "--all"], fixture.env, fixture.dir);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /2 of 2 queued again/);
    assert.match((await jobsCli(["dead"], fixture.env, fixture.dir)).stdout, /No dead letters/);
  } finally {
    await fixture.cleanup();
  }
});

Deno.test("jobs purge deletes finished jobs older than the cutoff; --dead-letters too", async () => {
  const fixture = await store();
  try {
    const onlyDone = await jobsCli(["purge", "--state", "done"], fixture.env, fixture.dir);
    assert.equal(onlyDone.code, 0);
    assert.match(onlyDone.stdout, /Purged 1 job \(done\) last changed more than 7d ago/);

    const rest = await jobsCli(["purge", "--dead-letters"], fixture.env, fixture.dir);
    assert.match(rest.stdout, /Purged 1 job \(done, failed, dead\)/);
    assert.match(rest.stdout, /Purged 1 dead letter older than 7d/);

    const kv = await Deno.openKv(fixture.path);
    try {
      assert.equal(await getJob(kv, fixture.jobs.oldDone.id), null);
      assert.equal(await getJob(kv, fixture.jobs.oldFailed.id), null);
      assert.equal((await getJob(kv, fixture.jobs.recentDone.id))?.state, "done");
      assert.equal((await getJob(kv, fixture.jobs.queued.id))?.state, "queued");
      assert.deepEqual((await listDeadLetters(kv)).map((item) => item.id), [
        fixture.dead.recent.id,
      ]);
    } finally {
      kv.close();
    }

    const all = await jobsCli(["purge", "--older-than", "0"], fixture.env, fixture.dir);
    assert.match(all.stdout, /Purged 1 job/);
  } finally {
    await fixture.cleanup();
  }
});

Deno.test("jobs refuses bad usage with exit 2 and names the fix", async () => {
  const fixture = await store();
  try {
    const cases: [string[], RegExp][] = [
      [["purge", "--older-than", "a week"], /Cannot read 'a week' as a duration/],
      [["purge", "--state", "queued"], /only finished jobs may be purged/],
      [["list", "--state", "finished"], /no job state 'finished': use one of queued, running/],
      [["list", "--limit", "0"], /--limit must be a positive whole number/],
      [["retry"], /Name the dead letters to retry/],
      [["retry", "x", "--all"], /ids or --all, not both/],
      [["tail"], /'jobs' has no subcommand 'tail'/],
      [["stats", "--verbose"], /'jobs stats' has no option '?--verbose/],
    ];
    for (const [args, expected] of cases) {
      const result = await jobsCli(args, fixture.env, fixture.dir);
      assert.equal(result.code, 2, args.join(" "));
      assert.match(result.stderr, expected);
    }
  } finally {
    await fixture.cleanup();
  }
});

Deno.test("jobs explains a missing store and an in-memory one", async () => {
  const dir = await workdir();
  try {
    const missing = await jobsCli(["stats"], { WECOM_GATEWAY_KV: `${dir}/nothing.sqlite3` }, dir);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /There is no KV store at .*nothing\.sqlite3: no gateway has run/);
    assert.ok(!(await Deno.stat(`${dir}/nothing.sqlite3`).then(() => true, () => false)));

    const memory = await jobsCli(["list"], { WECOM_GATEWAY_KV: ":memory:" }, dir);
    assert.equal(memory.code, 2);
    assert.match(memory.stderr, /lives inside the gateway process/);

    const nothing = await jobsCli(["list"], {}, dir);
    assert.equal(nothing.code, 2);
    assert.match(nothing.stderr, /No WeCom app is configured/);
    assert.match(nothing.stderr, /--kv PATH or WECOM_GATEWAY_KV/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

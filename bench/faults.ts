/**
 * The fault suite: `deno task faults`. Loopback only; stops by itself.
 *
 * 1. kill -9 trials: a gateway subprocess under load (random users, messages,
 *    agent durations and WeCom failures) is killed with SIGKILL at a random
 *    moment (once or twice), started again on the same KV file after a
 *    random pause, and the load goes on; WeCom's callback retries are
 *    simulated (a callback not answered 200 is sent again until it is).
 * 2. WeCom API storm: long runs of errcode -1, 45009, HTTP 503, timeouts
 *    (answered after the gateway gave up, then delivered anyway), slow
 *    answers, dropped connections and a random mix, under steady load.
 * 3. Late landing: a send times out at the gateway and WeCom delivers it
 *    3 s later anyway, after the gateway's retry.
 * 4. Identical replies: a member sends the same text twice and the second
 *    reply's first send fails (HTTP 503). Every send carries WeCom's
 *    duplicate check, so the second reply must differ (invisibly) from the
 *    first or WeCom would drop it as a copy.
 *
 * Every acknowledged message must be answered exactly once, in order per
 * member. Prints one line per trial and a summary table; exits 1 on any lost,
 * doubled or reordered reply.
 *
 * Usage: deno task faults [--trials 20] [--storm-seconds 30] [--max-minutes 20]
 *                         [--only kill|storm|late|identical] [--late 100-4000]
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { GatewayProcess } from "../tests/e2e/lib/gateway_process.ts";
import { createHarness, type Harness, tag, waitFor } from "../tests/e2e/lib/harness.ts";
import {
  checkLedger,
  createLedger,
  type Ledger,
  type LedgerCheck,
} from "../tests/e2e/lib/ledger.ts";
import { type KvState, readKvState, waitForSettledKv } from "../tests/e2e/lib/kv_state.ts";
import { startApiStorm, type StormMode } from "../tests/e2e/lib/api_storm.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    trials: { type: "string", default: "20" },
    "storm-seconds": { type: "string", default: "30" },
    "max-minutes": { type: "string", default: "20" },
    only: { type: "string" },
    late: { type: "string" },
  },
});
const TRIALS = Number(flags.trials);
const STORM_SECONDS = Number(flags["storm-seconds"]);
const DEADLINE = performance.now() + Number(flags["max-minutes"]) * 60_000;
const REQUEST_TIMEOUT_S = 1;
/** How late after the gateway's timeout a timed-out send still lands at WeCom, ms. */
const LATE_MS = (flags.late ?? "100-4000").split("-").map(Number);

/** One row of the summary. */
interface Row {
  scenario: string;
  trials: number;
  acked: number;
  delivered: number;
  duplicates: number;
  lost: number;
  outOfOrder: number;
  suppressed: number;
  /** Seconds from the last restart (or the end of the storm) to the last reply, per trial. */
  recovery: number[];
  problems: string[];
}

function emptyRow(scenario: string): Row {
  return {
    scenario,
    trials: 0,
    acked: 0,
    delivered: 0,
    duplicates: 0,
    lost: 0,
    outOfOrder: 0,
    suppressed: 0,
    recovery: [],
    problems: [],
  };
}

function add(row: Row, check: LedgerCheck, recoveryS: number | undefined, label: string): void {
  row.trials++;
  row.acked += check.acked;
  row.delivered += check.delivered;
  row.duplicates += check.duplicates;
  row.lost += check.lost;
  row.outOfOrder += check.outOfOrder;
  row.suppressed += check.suppressed;
  if (recoveryS !== undefined) row.recovery.push(recoveryS);
  row.problems.push(...check.problems.map((p) => `${label}: ${p}`));
}

const pick = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));
function shuffle<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A member's messages, sent one after another; each retried (as WeCom does) until answered 200. */
async function member(
  h: Harness,
  current: () => GatewayProcess | null,
  user: string,
  contents: string[],
  ledger: Ledger,
  gapMs: [number, number],
  msgBase: number,
): Promise<void> {
  for (const [i, content] of contents.entries()) {
    const sealed = await h.callback(user, content, String(msgBase + i));
    for (;;) {
      const gateway = current();
      const status = gateway ? await h.post(gateway, sealed, 6000) : 0;
      if (status === 200) break;
      if (status !== 0 && status !== 503) throw new Error(`callback answered ${status}`);
      await sleep(100);
    }
    ledger.ack(user, content);
    await sleep(pick(gapMs[0], gapMs[1]));
  }
}

function describeState(state: KvState): string {
  const j = state.jobs;
  const o = state.outbox;
  return `q${j.queued}/r${j.running}/d${j.done} outbox p${o.pending}(fail ${o.failedPending}, flight ${o.inFlight})`;
}

async function settle(
  h: Harness,
  gateway: GatewayProcess,
  ledger: Ledger,
  users: string[],
  timeoutMs: number,
): Promise<{ check: LedgerCheck; ms: number; state: KvState | null; note: string }> {
  let note = "";
  let ms = 0;
  try {
    ms = await waitFor(
      () => checkLedger(ledger, h.api, users).lost === 0,
      "every reply",
      timeoutMs,
      50,
    );
    // Then until nothing is left to do (a resend after an in-flight lease, a late double).
    await waitForSettledKv(h.kvPath, timeoutMs);
  } catch (error) {
    note = (error as Error).message;
  }
  const stopped = await gateway.stop();
  if (stopped.code !== 0) note += ` gateway exited ${stopped.code}`;
  const state = await readKvState(h.kvPath).catch(() => null);
  if (state && state.outbox.pending > 0) note += ` ${state.outbox.pending} replies still pending`;
  if (state && state.deadLetters > 0) note += ` ${state.deadLetters} dead letters`;
  return { check: checkLedger(ledger, h.api, users), ms, state, note };
}

async function killTrial(trial: number, row: Row): Promise<void> {
  const users = Array.from({ length: pick(3, 8) }, (_, i) => `t${trial}u${i}`);
  const perUser = pick(3, 8);
  const agentSeconds = pick(1, 6) / 10;
  const failRate = pick(0, 30) / 100;
  const kills = Math.random() < 0.35 ? 2 : 1;
  const h = await createHarness({
    leaseSeconds: 2,
    requestTimeoutSeconds: REQUEST_TIMEOUT_S,
    agentSeconds,
    concurrency: pick(2, 4),
  });
  const storm = startApiStorm(h.api.url, { requestTimeoutMs: REQUEST_TIMEOUT_S * 1000 });
  storm.set("mixed", failRate);
  h.env.WECOM_CALLBACK_API_BASE = storm.url;
  const ledger = createLedger();
  let gateway: GatewayProcess | null = await h.start("all", `trial ${trial}`);
  const atKill: string[] = [];
  let restartedAt = 0;
  let label = "";
  try {
    const run = tag();
    const senders = Promise.all(users.map((user, u) =>
      member(
        h,
        () => gateway,
        user,
        Array.from({ length: perUser }, (_, i) => `${user} #${i + 1} ${run}`),
        ledger,
        [0, 150],
        u * 100,
      )
    ));
    senders.catch(() => {});
    // Kill when a random share of the replies is out (plus a random moment more), so that
    // kills land before, during and after the busiest part of the load.
    const total = users.length * perUser;
    const killAfter: string[] = [];
    let share = 0;
    for (let k = 0; k < kills; k++) {
      share = share + Math.random() * (0.9 - share) * (k === kills - 1 ? 1 : 0.6);
      const target = Math.floor(share * total);
      await waitFor(() => h.api.delivered().length >= target, `${target} replies`, 60_000, 5);
      const jitter = pick(0, 400);
      await sleep(jitter);
      killAfter.push(`${Math.round(share * 100)}%+${jitter}ms`);
      const victim: GatewayProcess = gateway!;
      gateway = null;
      const killedAt = Date.now();
      await victim.kill();
      atKill.push(describeState(await readKvState(h.kvPath, killedAt)));
      await sleep(pick(0, 800));
      gateway = await h.start("all", `trial ${trial}`);
      restartedAt = performance.now();
    }
    label =
      `trial ${
        String(trial).padStart(2)
      }: ${users.length}×${perUser} msgs, agent ${agentSeconds}s, ` +
      `fail ${Math.round(failRate * 100)}%, kill at ${killAfter.join(", ")} of the replies`;
    await senders;
    const settleFrom = performance.now();
    const result = await settle(h, gateway!, ledger, users, 60_000);
    // From the (last) restart being ready to the last reply delivered.
    const recoveryS = Math.max(0, settleFrom + result.ms - restartedAt) / 1000;
    add(row, result.check, recoveryS, `trial ${trial}`);
    if (result.note) row.problems.push(`trial ${trial}: ${result.note}`);
    const c = result.check;
    console.log(
      `${label} | at kill ${
        atKill.join("; ")
      } | acked ${c.acked} delivered ${c.delivered} dup ${c.duplicates} ` +
        `lost ${c.lost} order ${c.outOfOrder} suppressed ${c.suppressed} | recovered ${
          recoveryS.toFixed(1)
        } s${result.note ? ` | ${result.note}` : ""}`,
    );
  } catch (error) {
    row.trials++;
    row.problems.push(`trial ${trial}: ${(error as Error).message}`);
    console.log(`trial ${trial}: FAILED ${(error as Error).message}\n${gateway?.output() ?? ""}`);
  } finally {
    await gateway?.kill();
    await storm.close();
    await h.close();
  }
}

async function apiStorm(row: Row): Promise<void> {
  const h = await createHarness({
    leaseSeconds: 5,
    requestTimeoutSeconds: REQUEST_TIMEOUT_S,
    agentSeconds: 0.1,
    concurrency: 4,
  });
  const storm = startApiStorm(h.api.url, {
    requestTimeoutMs: REQUEST_TIMEOUT_S * 1000,
    lateMs: [LATE_MS[0], LATE_MS[1]],
  });
  h.env.WECOM_CALLBACK_API_BASE = storm.url;
  const ledger = createLedger();
  const users = Array.from({ length: 20 }, (_, i) => `storm${i}`);
  let gateway: GatewayProcess | null = null;
  try {
    gateway = await h.start("all", "storm");
    const kinds: [StormMode, number][] = [
      ["busy", 1],
      ["rate_limited", 1],
      ["unavailable", 1],
      ["timeout", 1],
      ["drop", 1],
      ["slow", 1],
      ["mixed", 0.5],
    ];
    // Two rounds of every kind, each round in a random order.
    const phases = [...shuffle(kinds), ...shuffle(kinds)];
    const phaseMs = (STORM_SECONDS * 1000) / phases.length;
    const perUser = Math.max(2, Math.round(STORM_SECONDS / 3));
    const run = tag();
    const g = gateway;
    const senders = Promise.all(users.map((user, u) =>
      member(
        h,
        () => g,
        user,
        Array.from({ length: perUser }, (_, i) => `${user} #${i + 1} ${run}`),
        ledger,
        [1500, 4500],
        u * 1000,
      )
    ));
    for (const [mode, rate] of phases) {
      storm.set(mode, rate);
      await sleep(phaseMs);
    }
    storm.set("ok");
    const calmAt = performance.now();
    await senders;
    const result = await settle(h, gateway, ledger, users, 180_000);
    gateway = null;
    const recoveryS = (performance.now() - calmAt - 300) / 1000;
    add(row, result.check, recoveryS, "storm");
    if (result.note) row.problems.push(`storm: ${result.note}`);
    const c = result.check;
    console.log(
      `storm: ${STORM_SECONDS} s over ${users.length} members, sends by mode ${
        JSON.stringify(storm.counts)
      } | acked ${c.acked} delivered ${c.delivered} dup ${c.duplicates} lost ${c.lost} order ${c.outOfOrder} ` +
        `suppressed ${c.suppressed} | all delivered ${recoveryS.toFixed(1)} s after the storm${
          result.note ? ` | ${result.note}` : ""
        }`,
    );
  } catch (error) {
    row.trials++;
    row.problems.push(`storm: ${(error as Error).message}`);
    console.log(`storm: FAILED ${(error as Error).message}\n${gateway?.output() ?? ""}`);
  } finally {
    await gateway?.kill();
    await storm.close();
    await h.close();
  }
}

/** The same text twice from a member; the second reply's first send fails. Counted per message. */
async function identicalReplies(row: Row): Promise<void> {
  const h = await createHarness({ agentSeconds: 0.1, requestTimeoutSeconds: REQUEST_TIMEOUT_S });
  let gateway: GatewayProcess | null = null;
  try {
    gateway = await h.start("all", "identical");
    const users = ["same0", "same1", "same2"];
    const text = "好的";
    let acked = 0;
    for (const [u, user] of users.entries()) {
      for (let i = 0; i < 2; i++) {
        if (i === 1) h.api.inject("send", [{ httpStatus: 503 }]);
        const status = await h.post(
          gateway,
          await h.callback(user, text, String(9000 + u * 10 + i)),
        );
        if (status !== 200) throw new Error(`callback answered ${status}`);
        acked++;
        await waitFor(() => h.api.delivered(user).length >= i + 1 || i === 1, "a reply", 10_000);
      }
    }
    await sleep(4000);
    await gateway.stop();
    gateway = null;
    const delivered = users.reduce((n, user) => n + h.api.delivered(user).length, 0);
    const suppressed = h.api.state.duplicatesSuppressed.length;
    const check: LedgerCheck = {
      acked,
      delivered,
      duplicates: Math.max(0, delivered - acked),
      lost: Math.max(0, acked - delivered),
      unexpected: 0,
      outOfOrder: 0,
      suppressed,
      dropped: 0,
      problems: delivered === acked ? [] : [
        `${acked} messages "${text}" acknowledged, ${delivered} replies delivered: ${suppressed} ` +
        "retried sends were suppressed by WeCom's duplicate check as copies of the earlier identical reply",
      ],
    };
    add(row, check, undefined, "identical");
    console.log(
      `identical: ${users.length} members × 2 × "${text}", second reply's first send 503 | acked ${acked} ` +
        `delivered ${delivered} suppressed ${suppressed}`,
    );
  } catch (error) {
    row.trials++;
    row.problems.push(`identical: ${(error as Error).message}`);
  } finally {
    await gateway?.kill();
    await h.close();
  }
}

/** A send times out at the gateway, and WeCom delivers it anyway 3 s later: after the retry. */
async function lateLanding(row: Row): Promise<void> {
  const h = await createHarness({ agentSeconds: 0.1, requestTimeoutSeconds: REQUEST_TIMEOUT_S });
  const storm = startApiStorm(h.api.url, {
    requestTimeoutMs: REQUEST_TIMEOUT_S * 1000,
    lateMs: [3000, 3000],
  });
  h.env.WECOM_CALLBACK_API_BASE = storm.url;
  const ledger = createLedger();
  const users = ["late0", "late1", "late2"];
  let gateway: GatewayProcess | null = null;
  try {
    gateway = await h.start("all", "late");
    const run = tag();
    for (const [u, user] of users.entries()) {
      storm.set("timeout");
      const content = `${user} ${run}`;
      const status = await h.post(gateway, await h.callback(user, content, String(8000 + u)));
      if (status !== 200) throw new Error(`callback answered ${status}`);
      ledger.ack(user, content);
      await waitFor(() => (storm.counts.timeout ?? 0) >= u + 1, "the timed-out send", 10_000, 5);
      storm.set("ok");
      await waitFor(() => h.api.delivered(user).length >= 1, "a reply", 10_000);
    }
    await sleep(4500); // the last late send lands
    const result = await settle(h, gateway, ledger, users, 10_000);
    gateway = null;
    add(row, result.check, undefined, "late");
    if (result.note) row.problems.push(`late: ${result.note}`);
    const c = result.check;
    console.log(
      `late: ${users.length} sends timed out after ${REQUEST_TIMEOUT_S} s and landed 3 s later | acked ${c.acked} ` +
        `delivered ${c.delivered} dup ${c.duplicates} suppressed ${c.suppressed}`,
    );
  } catch (error) {
    row.trials++;
    row.problems.push(`late: ${(error as Error).message}`);
  } finally {
    await gateway?.kill();
    await storm.close();
    await h.close();
  }
}

function table(rows: Row[]): string {
  const header = [
    "scenario",
    "trials",
    "messages acked",
    "replies delivered",
    "duplicates",
    "lost",
    "out of order",
    "resends suppressed",
    "recovery p50 / max (s)",
  ];
  const lines = rows.map((r) => {
    const sorted = [...r.recovery].sort((a, b) => a - b);
    const p50 = sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)] : NaN;
    const max = sorted.length ? sorted[sorted.length - 1] : NaN;
    return [
      r.scenario,
      String(r.trials),
      String(r.acked),
      String(r.delivered),
      String(r.duplicates),
      String(r.lost),
      String(r.outOfOrder),
      String(r.suppressed),
      Number.isNaN(p50) ? "-" : `${p50.toFixed(1)} / ${max.toFixed(1)}`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [
    format(header),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...lines.map(format),
  ].join("\n");
}

const rows: Row[] = [];
const began = performance.now();
if (!flags.only || flags.only === "kill") {
  const row = emptyRow("kill -9 under load");
  rows.push(row);
  for (let trial = 1; trial <= TRIALS; trial++) {
    if (performance.now() > DEADLINE) {
      row.problems.push(`time budget spent after ${trial - 1} of ${TRIALS} trials`);
      break;
    }
    await killTrial(trial, row);
  }
}
if (!flags.only || flags.only === "storm") {
  const row = emptyRow(`WeCom API storm (${STORM_SECONDS} s)`);
  rows.push(row);
  await apiStorm(row);
}
if (!flags.only || flags.only === "late") {
  const row = emptyRow("timed-out send lands late");
  rows.push(row);
  await lateLanding(row);
}
if (!flags.only || flags.only === "identical") {
  const row = emptyRow("identical replies + 503");
  rows.push(row);
  await identicalReplies(row);
}

console.log(`\nFault suite, ${((performance.now() - began) / 1000).toFixed(0)} s:\n`);
console.log(table(rows));
const problems = rows.flatMap((r) => r.problems);
if (problems.length > 0) {
  console.log(`\n${problems.length} problem(s):`);
  for (const problem of problems.slice(0, 50)) console.log(`  - ${problem}`);
  Deno.exit(1);
}
console.log("\nEvery acknowledged message was answered exactly once, in order.");

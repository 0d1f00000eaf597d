/**
 * `jobs`: look into the gateway's KV store: jobs, counts, dead letters;
 * retry dead letters; run failed agent jobs again (`rerun`); purge old records. Message content is never shown.
 *
 * @example Usage
 * ```ts ignore
 * import { createJobsCommand } from "./jobs.ts";
 * await createJobsCommand().run(["list", "--state", "failed"]);
 * ```
 *
 * @module
 */

import { resolve } from "../path.ts";
import { ConfigError, formatConfigError, loadConfig } from "../config/load.ts";
import { readDotenv } from "../config/dotenv.ts";
import type { GatewayConfig } from "../config/types.ts";
import { listDeadLetters, purgeDeadLetters, retryDeadLetter } from "../records/outbox_queries.ts";
import { itemSummary, jobSummary, jobType, replyStates } from "../records/summary.ts";
import { FINISHED_STATES, JOB_STATES, listJobs, purgeJobs } from "../records/job_store/mod.ts";
import { readStoreStats } from "../records/stats.ts";
import type { JobRecord, JobState } from "../records/job.ts";
import { failedAgentJobs, rerunJob } from "../jobs/rerun.ts";
import { openStore } from "../store/kv.ts";
import { parseOptions, UsageError } from "./args.ts";
import { type Command, createCommand } from "./command.ts";
import type { CliContext } from "./context.ts";
import { deadReasonJson, deadReasonMeanings, deadReasonSummary } from "./dead_reason.ts";
import { formatAge, parseDuration } from "./duration.ts";
import { formatTable, truncate } from "./table.ts";

const HELP = `wecom-gateway jobs: look into the gateway's store (jobs, dead letters) and tidy it.

Usage: wecom-gateway jobs [list] [--state STATE] [--limit N] [--json]
       wecom-gateway jobs stats [--json]
       wecom-gateway jobs dead [--limit N] [--json]
       wecom-gateway jobs retry ID... | --all
       wecom-gateway jobs rerun JOB_ID... | --all
       wecom-gateway jobs purge [--older-than 7d] [--state done,failed,dead] [--dead-letters]

Subcommands:
  list     newest jobs first: id, state, reply, conversation, app, type, age, attempts, error
           --state queued|running|done|failed|dead   --limit N (default 50)
           reply: where the job's answer to the member stands: pending (in the outbox, not yet
           accepted by WeCom), sent, dead (given up: see 'jobs dead'), none (nothing to send),
           - (the agent has not finished)
  stats    jobs per state, outbox (pending, sent, dead), dead letters, and each app's delivery
           status (e.g. an untrusted IP, 60020, or a refused secret)
  dead     dead letters (replies that could not be delivered): id, conversation, purpose,
           attempts, first and last try, and why (refused for good, or the retry window ran
           out, with WeCom's errcode and what it means)
  retry    send dead letters again (by id, or --all); a running gateway picks them up at once,
           otherwise the next start does
  rerun    run failed agent jobs again (by job id from 'jobs list --state failed', or --all:
           every failed one except those /stop cancelled), each conversation's in the order
           sent; the member gets the answer. Fix the cause first ('check --online')
  purge    delete finished jobs last changed more than --older-than ago (default 7d; e.g. 12h,
           30d, 0 for all), in the --state list (default done,failed,dead); --dead-letters also
           deletes dead letters older than that

Options for all:
  --config PATH   config.yaml to read, for the KV location (WECOM_GATEWAY_KV) and app names
  --kv PATH       the KV store to open instead (a file path or a KV Connect URL)
  --json          machine-readable output (list, stats, dead)

Message content is never shown. These commands are safe while the gateway runs: it owns the
SQLite file, and a command may briefly meet "database is locked" (writes are retried). A KV
of ':memory:' lives inside the gateway process and cannot be inspected from here.

Exit codes: 0 ok, 1 something failed (e.g. an unknown dead-letter id), 2 bad usage or configuration.`;

/** Dependencies of {@linkcode createJobsCommand} (tests). */
export interface JobsDeps {
  context?: CliContext;
}

const COMMON = { strings: ["config", "kv"], booleans: ["json"] };

/** The open store and what was learnt on the way. */
interface Opened {
  kv: Deno.Kv;
  path: string;
  config?: GatewayConfig;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Finds and opens the KV store, or prints why not and returns an exit code. */
async function openKv(
  context: CliContext,
  values: Record<string, string | boolean | undefined>,
): Promise<Opened | number> {
  let path = values.kv as string | undefined;
  let config: GatewayConfig | undefined;
  if (path === undefined) {
    const configArgs = values.config === undefined ? [] : ["--config", values.config as string];
    try {
      config = await loadConfig({ args: configArgs, env: context.env, cwd: context.cwd });
      path = config.kvPath;
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      const dotenv = await readDotenv(context.cwd);
      path = context.env.WECOM_GATEWAY_KV ?? dotenv.values.WECOM_GATEWAY_KV;
      if (path === undefined) {
        context.err(formatConfigError(error));
        context.err(
          "\nFix the configuration (see 'wecom-gateway check'), or name the store with " +
            "--kv PATH or WECOM_GATEWAY_KV.",
        );
        return 2;
      }
      context.err(
        "note: the configuration has problems (run 'wecom-gateway check'); using " +
          "WECOM_GATEWAY_KV.",
      );
    }
  }
  if (path === ":memory:") {
    context.err(
      "The KV store is ':memory:': it lives inside the gateway process and cannot be " +
        "inspected from another one. Set WECOM_GATEWAY_KV to a file path (and restart the " +
        "gateway) to use these commands.",
    );
    return 2;
  }
  const remote = /^https?:\/\//.test(path);
  if (!remote) {
    path = resolve(context.cwd, path);
    if (!(await exists(path))) {
      context.err(
        `There is no KV store at ${path}: no gateway has run with this configuration yet, ` +
          "or it uses another one (check WECOM_GATEWAY_KV, --config, or give --kv PATH).",
      );
      return 2;
    }
  }
  try {
    return { kv: await openStore(path), path, config };
  } catch (error) {
    context.err((error as Error).message);
    return 2;
  }
}

/** Opens the KV store for `use` and closes it afterwards; when it cannot be opened, the exit code. */
async function withStore(
  context: CliContext,
  values: Record<string, string | boolean | undefined>,
  use: (opened: Opened) => Promise<number>,
): Promise<number> {
  const opened = await openKv(context, values);
  if (typeof opened === "number") return opened;
  try {
    return await use(opened);
  } finally {
    opened.kv.close();
  }
}

function positiveInt(command: string, name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) {
    throw new UsageError(command, `--${name} must be a positive whole number: got '${value}'.`);
  }
  return number;
}

async function runList(args: string[], context: CliContext): Promise<number> {
  const command = "jobs list";
  const { values } = parseOptions(args, {
    command,
    strings: [...COMMON.strings, "state", "limit"],
    booleans: COMMON.booleans,
  });
  const state = values.state as JobState | undefined;
  if (state !== undefined && !JOB_STATES.includes(state)) {
    throw new UsageError(
      command,
      `There is no job state '${state}': use one of ${JOB_STATES.join(", ")}.`,
    );
  }
  const limit = positiveInt(command, "limit", values.limit, 50);
  return await withStore(context, values, async (opened) => {
    const jobs = await listJobs(opened.kv, { state, limit });
    const replies = await replyStates(opened.kv, jobs);
    const reply = (job: JobRecord) => replies.get(job.id) ?? "-";
    if (values.json) {
      context.out(JSON.stringify(jobs.map((job) => jobSummary(job, reply(job))), null, 2));
      return 0;
    }
    if (jobs.length === 0) {
      context.out(state ? `No ${state} jobs in ${opened.path}.` : `No jobs in ${opened.path}.`);
      return 0;
    }
    const now = context.now();
    context.out(formatTable(
      ["id", "state", "reply", "conversation", "app", "type", "age", "attempts", "error"],
      jobs.map((job) => [
        job.id,
        job.state,
        reply(job),
        job.conversation,
        job.app,
        jobType(job),
        formatAge(now - job.receivedAt),
        String(job.attempts),
        truncate(job.error ?? "", 60),
      ]),
    ));
    if (jobs.length === limit) {
      context.out(`(the newest ${limit}; --limit N for more, --state STATE to filter)`);
    }
    return 0;
  });
}

async function runStats(args: string[], context: CliContext): Promise<number> {
  const { values } = parseOptions(args, { command: "jobs stats", ...COMMON });
  return await withStore(context, values, async (opened) => {
    const { kv, config } = opened;
    const now = context.now();
    const stats = await readStoreStats(kv, config?.apps ?? [], now);
    const { jobs, outbox, deadLetters, apps: statuses, gettokenPaused: failures } = stats;

    if (values.json) {
      context.out(JSON.stringify(
        {
          jobs,
          outbox,
          deadLetters,
          apps: statuses.map((status) => ({ ...status, at: new Date(status.at).toISOString() })),
          gettokenPaused: failures.map((failure) => ({
            app: failure.app,
            errcode: failure.errcode,
            message: failure.message,
            until: new Date(failure.expiresAt).toISOString(),
          })),
        },
        null,
        2,
      ));
      return 0;
    }
    const lines = [
      `Store: ${opened.path}`,
      `Jobs:          ${JOB_STATES.map((state) => `${state} ${jobs[state]}`).join(", ")}`,
      `Outbox:        ${outbox.pending} pending, ${outbox.sent} sent, ${outbox.dead} dead`,
      `Dead letters:  ${deadLetters}${
        deadLetters > 0
          ? " (see 'wecom-gateway jobs dead'; 'jobs retry --all' sends them again)"
          : ""
      }`,
    ];
    const names = new Set([...(config?.apps ?? []).map((app) => app.name)]);
    for (const status of statuses) names.add(status.app);
    if (names.size > 0) {
      const rows = [...names].map((name) => {
        const status = statuses.find((candidate) => candidate.app === name);
        if (!status) return [name, "ok", "no delivery problem recorded"];
        const age = formatAge(now - status.at);
        return status.ok ? [name, "ok", `${status.message} (${age} ago)`] : [
          name,
          "PROBLEM",
          `${status.problem ?? "error"}${
            status.errcode !== undefined ? ` ${status.errcode}` : ""
          }: ${status.message} (${age} ago)`,
        ];
      });
      const table = formatTable(["app", "status", "delivery"], rows);
      lines.push("Apps:", ...table.split("\n").map((line) => `  ${line}`));
    }
    for (const failure of failures) {
      lines.push(
        `gettoken paused for app '${failure.app}' until ${
          new Date(failure.expiresAt).toISOString()
        } (errcode ${failure.errcode}): ${failure.message}`,
      );
    }
    context.out(lines.join("\n"));
    return 0;
  });
}

async function runDead(args: string[], context: CliContext): Promise<number> {
  const command = "jobs dead";
  const { values } = parseOptions(args, {
    command,
    strings: [...COMMON.strings, "limit"],
    booleans: COMMON.booleans,
  });
  const limit = positiveInt(command, "limit", values.limit, 100);
  return await withStore(context, values, async (opened) => {
    const items = await listDeadLetters(opened.kv, { limit });
    if (values.json) {
      context.out(JSON.stringify(
        items.map((item) => ({
          ...itemSummary(item),
          ...(item.deadReason ? { deadReason: deadReasonJson(item.deadReason) } : {}),
        })),
        null,
        2,
      ));
      return 0;
    }
    if (items.length === 0) {
      context.out("No dead letters: every reply was delivered or is still on its way.");
      return 0;
    }
    const now = context.now();
    const ago = (at: number | undefined) => at === undefined ? "-" : formatAge(now - at);
    context.out(formatTable(
      ["id", "conversation", "app", "purpose", "attempts", "age", "first try", "last try", "why"],
      items.map((item) => [
        item.id,
        item.conversation,
        item.app,
        item.purpose,
        String(item.attempts),
        formatAge(now - item.createdAt),
        ago(item.deadReason?.firstAttemptAt),
        ago(item.deadReason?.lastAttemptAt),
        truncate(deadReasonSummary(item), 80),
      ]),
    ));
    const meanings = deadReasonMeanings(items);
    if (meanings.length > 0) {
      context.out(`\nWhat WeCom said:\n${meanings.map((line) => `  ${line}`).join("\n")}`);
    }
    context.out(
      "\nFix the cause (see why; 'wecom-gateway check --online'), then " +
        "'wecom-gateway jobs retry ID' or 'jobs retry --all'.",
    );
    return 0;
  });
}

/** How {@linkcode requeueEach} names what it queues again, in its usage errors and lines. */
interface RequeueWords {
  /** The subcommand, e.g. `jobs retry`. */
  command: string;
  /** What the positionals are, e.g. `dead-letter ids`. */
  ids: string;
  /** The usage error when neither ids nor `--all` are given. */
  nameThem: string;
  /** The line when `--all` finds nothing. */
  none: string;
  /** The summary's tail after `N of M queued again.` */
  then: string;
}

/**
 * The shared shape of `retry` and `rerun`: ids or `--all` (never both, never
 * neither), one attempt per id with a line each, a summary, exit 1 if any
 * failed. `all` lists the ids `--all` means; `named` orders the ids given.
 */
async function requeueEach(
  args: string[],
  context: CliContext,
  words: RequeueWords,
  ops: {
    all: (kv: Deno.Kv) => Promise<string[]>;
    named?: (ids: string[]) => string[];
    queue: (
      kv: Deno.Kv,
      id: string,
    ) => Promise<{ ok: true; line: string } | { ok: false; reason: string }>;
  },
): Promise<number> {
  const { command } = words;
  const { values, positionals } = parseOptions(args, {
    command,
    strings: COMMON.strings,
    booleans: ["all"],
    maxPositionals: Infinity,
  });
  if (values.all && positionals.length > 0) {
    throw new UsageError(command, `Give ${words.ids} or --all, not both.`);
  }
  if (!values.all && positionals.length === 0) {
    throw new UsageError(command, words.nameThem);
  }
  return await withStore(context, values, async (opened) => {
    const ids = values.all
      ? await ops.all(opened.kv)
      : (ops.named ? ops.named(positionals) : positionals);
    if (ids.length === 0) {
      context.out(words.none);
      return 0;
    }
    let failed = 0;
    for (const id of ids) {
      const outcome = await ops.queue(opened.kv, id);
      if (outcome.ok) {
        context.out(`${id}: ${outcome.line}`);
      } else {
        failed++;
        context.err(`${id}: ${outcome.reason}`);
      }
    }
    context.out(`${ids.length - failed} of ${ids.length} queued again. ${words.then}`);
    return failed > 0 ? 1 : 0;
  });
}

async function runRetry(args: string[], context: CliContext): Promise<number> {
  return await requeueEach(args, context, {
    command: "jobs retry",
    ids: "dead-letter ids",
    nameThem: "Name the dead letters to retry (ids from 'wecom-gateway jobs dead') or give --all.",
    none: "No dead letters to retry.",
    then: "A running gateway sends them now; otherwise the next start does.",
  }, {
    all: async (kv) => (await listDeadLetters(kv, { limit: 100_000 })).map((item) => item.id),
    queue: async (kv, id) => {
      try {
        const fresh = await retryDeadLetter(kv, id, context.now());
        return {
          ok: true,
          line: `queued again as ${fresh.id} (${fresh.conversation}, ${fresh.purpose})`,
        };
      } catch (error) {
        return { ok: false, reason: (error as Error).message };
      }
    },
  });
}

async function runPurge(args: string[], context: CliContext): Promise<number> {
  const command = "jobs purge";
  const { values } = parseOptions(args, {
    command,
    strings: [...COMMON.strings, "older-than", "state"],
    booleans: ["dead-letters"],
  });
  const olderThanText = (values["older-than"] as string | undefined) ?? "7d";
  let olderThanMs: number;
  try {
    olderThanMs = parseDuration(olderThanText);
  } catch (error) {
    throw new UsageError(command, `--older-than: ${(error as Error).message}`);
  }
  const states = values.state === undefined
    ? [...FINISHED_STATES]
    : (values.state as string).split(",").map((state) => state.trim()).filter(Boolean);
  for (const state of states) {
    if (!FINISHED_STATES.includes(state as JobState)) {
      throw new UsageError(
        command,
        `Cannot purge jobs in state '${state}': only finished jobs may be purged, use ` +
          `${FINISHED_STATES.join(", ")}.`,
      );
    }
  }
  return await withStore(context, values, async (opened) => {
    const cutoff = context.now() - olderThanMs;
    const purged = await purgeJobs(opened.kv, {
      states: states as JobState[],
      olderThan: cutoff,
      limit: Number.MAX_SAFE_INTEGER,
    });
    context.out(
      `Purged ${purged} job${purged === 1 ? "" : "s"} (${states.join(", ")}) last changed more ` +
        `than ${olderThanText} ago.`,
    );
    if (values["dead-letters"]) {
      const dead = await purgeDeadLetters(opened.kv, { olderThan: cutoff });
      context.out(
        `Purged ${dead} dead letter${dead === 1 ? "" : "s"} older than ${olderThanText}.`,
      );
    }
    return 0;
  });
}

async function runRerun(args: string[], context: CliContext): Promise<number> {
  return await requeueEach(args, context, {
    command: "jobs rerun",
    ids: "job ids",
    nameThem:
      "Name the failed jobs to run again (ids from 'wecom-gateway jobs list --state failed') " +
      "or give --all.",
    none: "No failed agent jobs to run again.",
    then: "A running gateway runs them now; otherwise the next start does.",
  }, {
    all: async (kv) => (await failedAgentJobs(kv)).map((job) => job.id),
    // ids are time-ordered: oldest first keeps each conversation's order
    named: (ids) => [...ids].sort(),
    queue: async (kv, id) => {
      const outcome = await rerunJob(kv, id, context.now());
      return outcome.ok
        ? { ok: true, line: `queued again (${outcome.job.conversation})` }
        : outcome;
    },
  });
}

const SUBCOMMANDS: Record<string, (args: string[], context: CliContext) => Promise<number>> = {
  list: runList,
  stats: runStats,
  dead: runDead,
  retry: runRetry,
  rerun: runRerun,
  purge: runPurge,
};

/**
 * Creates the `jobs` command.
 *
 * @example Usage
 * ```ts ignore
 * import { captureContext } from "./context.ts";
 * import { createJobsCommand } from "./jobs.ts";
 * const { context, stdout } = captureContext({ env: { WECOM_GATEWAY_KV: "/tmp/gw.sqlite3" } });
 * await createJobsCommand({ context }).run(["stats", "--json"]);
 * ```
 */
export function createJobsCommand(deps: JobsDeps = {}): Command {
  return createCommand(
    {
      name: "jobs",
      summary: "list jobs and dead letters, retry, purge (safe while the gateway runs)",
      help: HELP,
    },
    deps.context,
    async (args, context) => {
      const first = args[0];
      const sub = first === undefined || first.startsWith("-") ? "list" : first;
      const rest = first === undefined || first.startsWith("-") ? args : args.slice(1);
      const handler = SUBCOMMANDS[sub];
      if (!handler) {
        context.err(
          `'jobs' has no subcommand '${sub}': use ${Object.keys(SUBCOMMANDS).join(", ")}.\n\n` +
            HELP,
        );
        return 2;
      }
      return await handler(rest, context);
    },
  );
}

/** The `jobs` command. */
export const jobsCommand: Command = createJobsCommand();

/**
 * Shared helpers of the job tests: job records, the real outbox planner, and
 * small controllable agents.
 *
 * @module
 */

import { delay } from "../../src/delay.ts";
import type { AgentReply } from "../../src/records/agent.ts";
import type { JobsConfig } from "../../src/config/types.ts";
import { addOutboxItems, planNotice, planRecall, planReply } from "../../src/records/outbox.ts";
import type { OutboxItem } from "../../src/records/outbox_item.ts";
import type { OutboxPlanner, RunnerDeps } from "../../src/jobs/runner.ts";
import { enqueueJob, type EnqueueOptions } from "../../src/records/job_store/mod.ts";
import type { JobRecord } from "../../src/records/job.ts";
import { newId } from "../../src/store/id.ts";
import { keys } from "../../src/store/keys.ts";

/** The real outbox functions of src/records/outbox.ts. */
export const plan: OutboxPlanner = {
  reply: planReply,
  notice: planNotice,
  recall: planRecall,
  add: addOutboxItems,
};

/** Small intervals so tests run fast; notices off unless a test turns them on. */
export const CONFIG: JobsConfig = {
  concurrency: 4,
  leaseMs: 30_000,
  maxAttempts: 3,
  workingNoticeMs: 0,
  workingNoticeText: "Working on it…",
  recallWorkingNotice: true,
  pollMs: 20,
};

/** A queued text job of `conversation` ("corp:user"). */
export function textJob(conversation: string, content: string, now = Date.now()): JobRecord {
  const [corpId, userId] = conversation.split(":");
  return {
    id: newId(now),
    conversation,
    app: "default",
    corpId,
    agentId: "1000002",
    userId,
    message: {
      type: "text",
      content,
      msgId: crypto.randomUUID(),
      corpId,
      userId,
      createTime: Math.floor(now / 1000),
      agentId: "1000002",
    },
    receivedAt: now,
    state: "queued",
    attempts: 0,
    updatedAt: now,
  };
}

/** Records `job` in one atomic commit, as intake (`by: "intake"`) or `jobs rerun` does, and returns it. */
export async function enqueue(
  kv: Deno.Kv,
  job: JobRecord,
  options: EnqueueOptions = {},
): Promise<JobRecord> {
  const result = await enqueueJob(kv.atomic(), job, options).commit();
  if (!result.ok) throw new Error(`enqueue of ${job.id} failed`);
  return job;
}

/** Enqueues a text message and returns its job. */
export function send(
  kv: Deno.Kv,
  conversation: string,
  content: string,
  now = Date.now(),
): Promise<JobRecord> {
  return enqueue(kv, textJob(conversation, content, now));
}

/** Every outbox item, in id (sending) order; of one conversation when given. */
export async function outbox(kv: Deno.Kv, conversation?: string): Promise<OutboxItem[]> {
  const items: OutboxItem[] = [];
  for await (const entry of kv.list<OutboxItem>({ prefix: keys.outboxPrefix() })) {
    if (!conversation || entry.value.conversation === conversation) items.push(entry.value);
  }
  return items;
}

/** The text of an outbox item ("" for recalls and media). */
export function textOf(item: OutboxItem): string {
  return "content" in item.message ? item.message.content : "";
}

/** A promise with its resolve function. */
export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
} {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * An agent that replies `echo: <content>` after `delayMs`, honouring its abort
 * signal, and records each run (start and end times, per job id).
 */
export function recordingAgent(delayMs = 0) {
  const runs: { id: string; conversation: string; start: number; end: number }[] = [];
  let active = 0;
  let maxActive = 0;
  const agent = async (job: JobRecord, signal: AbortSignal): Promise<AgentReply> => {
    active++;
    maxActive = Math.max(maxActive, active);
    const start = performance.now();
    try {
      await delay(delayMs, { signal });
      const content = job.message.type === "text" ? job.message.content : job.message.type;
      return { text: `echo: ${content}`, attachments: [] };
    } finally {
      active--;
      runs.push({ id: job.id, conversation: job.conversation, start, end: performance.now() });
    }
  };
  return { agent, runs, maxActive: () => maxActive };
}

/** An agent whose runs wait until the test releases them (or the signal aborts). */
export function gatedAgent() {
  const started: { job: JobRecord; signal: AbortSignal }[] = [];
  const gate = deferred<void>();
  const agent = async (job: JobRecord, signal: AbortSignal): Promise<AgentReply> => {
    started.push({ job, signal });
    await new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      gate.promise.then(resolve);
    });
    return { text: `done: ${job.id}`, attachments: [] };
  };
  return { agent, started, release: () => gate.resolve() };
}

/** Runner deps with the real planner, no-op history reset and a silent log. */
export function runnerDeps(
  kv: Deno.Kv,
  runAgent: RunnerDeps["runAgent"],
  overrides: Partial<Omit<RunnerDeps, "config">> & { config?: Partial<JobsConfig> } = {},
): RunnerDeps {
  const { config, ...rest } = overrides;
  return {
    kv,
    runAgent,
    resetHistory: async () => {},
    plan,
    markdown: false,
    log: () => {},
    ...rest,
    config: { ...CONFIG, ...config },
  };
}

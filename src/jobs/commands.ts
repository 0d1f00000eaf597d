/**
 * The commands a user can send: answered by the job runner, before and
 * without the agent.
 *
 * - `/reset` (alias `/new`): forget the conversation's history.
 * - `/stop`: cancel the running request of the conversation (in any process)
 *   and drop its waiting messages.
 * - `/status`: what is running or waiting, and for how long.
 * - `/help`: the commands, and what the app cannot receive.
 *
 * Command jobs skip the conversation lock (see `./store.ts`), so the answer
 * comes at once even while a long agent run of the same conversation goes on.
 *
 * @module
 */

import { cancelConversation, conversationJobs } from "../records/job_store/mod.ts";
import type { JobCommand } from "../records/command.ts";
import type { JobRecord } from "../records/job.ts";

export { type JobCommand, parseCommand } from "../records/command.ts";

/** What a command needs from the runner. */
export interface CommandContext {
  kv: Deno.Kv;
  /** Epoch ms, for ages. */
  now: number;
  /** Clears the stored history of a conversation (`resetHistory` of src/agent/run.ts). */
  resetHistory: (kv: Deno.Kv, conversation: string) => Promise<void>;
  /** Aborts a job this process runs at once; returns true when it did. */
  cancelLocal?: (jobId: string) => boolean;
}

/** The `/help` text. */
export const HELP_TEXT = [
  "Commands:",
  "/reset or /new: forget this conversation and start afresh",
  "/stop: stop the running request and drop the waiting messages",
  "/status: show what is running or waiting",
  "/help: this list",
  "Anything else goes to the agent; a long request can take several minutes.",
  "Files cannot be sent to this app: WeCom does not deliver them to self-built apps. " +
  "Paste the text into a message instead.",
].join("\n");

/**
 * Says how long ago `since` was, in words: "40 s", "3 min", "2 h 5 min".
 *
 * @example Usage
 * ```ts
 * import { formatAge } from "./commands.ts";
 * console.assert(formatAge(0, 185_000) === "3 min");
 * ```
 */
export function formatAge(since: number, now: number): string {
  const seconds = Math.max(0, Math.round((now - since) / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

async function stop(ctx: CommandContext, job: JobRecord): Promise<string> {
  const { stopped, dropped } = await cancelConversation(ctx.kv, job.conversation, ctx.now);
  for (const running of stopped) ctx.cancelLocal?.(running.id);
  if (stopped.length === 0 && dropped.length === 0) {
    return "Nothing to stop: no request of yours is running or waiting.";
  }
  const parts: string[] = [];
  for (const running of stopped) {
    parts.push(
      `Stopped the running request (received ${formatAge(running.receivedAt, ctx.now)} ago).`,
    );
  }
  if (dropped.length > 0) parts.push(`Dropped ${plural(dropped.length, "waiting message")}.`);
  return parts.join(" ");
}

async function status(ctx: CommandContext, job: JobRecord): Promise<string> {
  const jobs = await conversationJobs(ctx.kv, job.conversation);
  const running = jobs.filter((j) => j.state === "running");
  const queued = jobs.filter((j) => j.state === "queued");
  if (running.length === 0 && queued.length === 0) {
    return "Nothing is running or waiting. Send a message to start.";
  }
  const lines: string[] = [];
  for (const j of running) {
    const attempt = j.attempts > 1 ? ` (attempt ${j.attempts})` : "";
    lines.push(
      `Running: your message from ${formatAge(j.receivedAt, ctx.now)} ago, ` +
        `started ${formatAge(j.updatedAt, ctx.now)} ago${attempt}.`,
    );
  }
  if (queued.length > 0) {
    lines.push(
      `Waiting: ${plural(queued.length, "message")}, the oldest received ` +
        `${formatAge(queued[0].receivedAt, ctx.now)} ago.`,
    );
  }
  return lines.join("\n");
}

/**
 * Carries out `command` for the conversation of `job` and returns the text to
 * send back to the user.
 *
 * @example Usage
 * ```ts
 * import { answerCommand } from "./commands.ts";
 * import type { JobRecord } from "../records/job.ts";
 * const kv = await Deno.openKv(":memory:");
 * const job = { id: "j1", conversation: "ww1:u1" } as JobRecord;
 * const text = await answerCommand(
 *   { kv, now: Date.now(), resetHistory: () => Promise.resolve() },
 *   job,
 *   "status",
 * );
 * console.assert(text.startsWith("Nothing is running"));
 * kv.close();
 * ```
 */
export async function answerCommand(
  ctx: CommandContext,
  job: JobRecord,
  command: JobCommand,
): Promise<string> {
  switch (command) {
    case "reset":
      await ctx.resetHistory(ctx.kv, job.conversation);
      return "Conversation reset.";
    case "stop":
      return await stop(ctx, job);
    case "status":
      return await status(ctx, job);
    case "help":
      return HELP_TEXT;
  }
}

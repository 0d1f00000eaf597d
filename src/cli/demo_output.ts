/**
 * How the demo shows a conversation: where it prints (`DemoOutput`), one line
 * per POST and per reply with the time since the member sent the message, and
 * where everything runs. Shared by the scripted demo, the interactive demo,
 * the demo against a real agent and `serve`'s demo mode.
 *
 * @example Usage
 * ```ts
 * import { preview } from "./demo_output.ts";
 * console.assert(preview("a\nb") === JSON.stringify("a ⏎ b"));
 * ```
 *
 * @module
 */

import type { DemoEnvironment } from "../simulator/demo.ts";
import type { Exchange, ReceivedMessage } from "../simulator/user.ts";
import { consoleOutput } from "./context.ts";

/** What the demo prints to; tests may capture it. */
export interface DemoOutput {
  out(text: string): void;
  err(text: string): void;
}

/** The console: stdout and stderr. */
export const CONSOLE: DemoOutput = consoleOutput;

const encoder = new TextEncoder();

/** The UTF-8 size of `text`. */
export function bytesOf(text: string): number {
  return encoder.encode(text).length;
}

/** `"text…"`: the start of `text` on one line, quoted. */
export function preview(text: string, max = 60): string {
  const oneLine = text.replace(/\s*\n\s*/g, " ⏎ ");
  const chars = [...oneLine];
  return JSON.stringify(chars.length > max ? chars.slice(0, max).join("") + "…" : oneLine);
}

/** `[  123 ms]`: a time since the member sent the message. */
export function stamp(ms: number): string {
  return `[${String(Math.round(ms)).padStart(5)} ms]`;
}

function describeReply(reply: ReceivedMessage, full: boolean): string[] {
  const flags = [
    reply.recalled ? " (recalled later)" : "",
    reply.truncated ? " (cut at 2048 bytes by WeCom)" : "",
  ].join("");
  const fits = !reply.content.includes("\n") && [...reply.content].length <= 60;
  if (!full || fits) {
    return [
      `${stamp(reply.afterMs)} gateway → user   ${reply.msgtype} ${preview(reply.content)}${flags}`,
    ];
  }
  return [
    `${stamp(reply.afterMs)} gateway → user   ${reply.msgtype}, ${reply.bytes} bytes${flags}:`,
    ...reply.content.split("\n").map((line) => `             │ ${line}`),
  ];
}

/** One line per POST of an exchange (the first, then WeCom's retries). */
export function describePosts(exchange: Exchange, what: string): string[] {
  return exchange.posts.map((post, i) =>
    i === 0
      ? `${stamp(post.afterMs)} user → gateway   ${what}  → HTTP ${post.status}`
      : `${stamp(post.afterMs)} user → gateway   the same callback again (WeCom's retry ${i})` +
        `  → HTTP ${post.status}`
  );
}

/** Prints one exchange: the POSTs, then every reply. */
export function printExchange(
  output: DemoOutput,
  exchange: Exchange,
  what: string,
  full: boolean,
): void {
  for (const line of describePosts(exchange, what)) output.out(`  ${line}`);
  for (const reply of exchange.replies) {
    for (const line of describeReply(reply, full)) output.out(`  ${line}`);
  }
  if (exchange.replies.length === 0) {
    output.out(`  ${stamp(exchange.totalMs)} (no reply: nothing for the agent in this message)`);
  }
}

/** Prints where everything runs. */
export function printEnvironment(output: DemoOutput, demo: DemoEnvironment, kvLabel: string): void {
  const app = demo.app;
  output.out(`  simulated WeCom API  ${demo.api.url}  (gettoken, message/send; in this process)`);
  output.out(
    `  gateway              ${demo.callbackUrl}  (agent ${demo.config.agent.kind}, KV ${kvLabel})`,
  );
  output.out(`  demo app             corp ${app.corpId}, agent ${app.agentId}  (random keys)`);
  output.out(`  simulated member     ${demo.user.userId}`);
  output.out("Times in [brackets] count from the moment the member sent the message.");
}

/**
 * `demo --interactive` (and `serve`'s demo mode at a terminal): each line read
 * is sent as the demo user and the replies are printed; `/quit`, the end of
 * input or a stop signal ends it.
 *
 * @example Usage
 * ```ts ignore
 * import { readLines, runInteractive } from "./demo_interactive.ts";
 * await runInteractive(demo, readLines(Deno.stdin.readable), { prompt: true });
 * ```
 *
 * @module
 */

import type { DemoEnvironment } from "../simulator/demo.ts";
import { CallbackRejectedError, ReplyTimeoutError } from "../simulator/user.ts";
import { CONSOLE, type DemoOutput, preview, printExchange } from "./demo_output.ts";

const encoder = new TextEncoder();

/**
 * Lines of `readable`, without their line ends (`\n` or `\r\n`).
 *
 * @example Usage
 * ```ts
 * import { readLines } from "./demo_interactive.ts";
 * const lines = await Array.fromAsync(readLines(ReadableStream.from([new TextEncoder().encode("a\r\nb")])));
 * console.assert(lines.join("|") === "a|b");
 * ```
 */
export async function* readLines(readable: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffer = "";
  for await (const chunk of readable.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, end).replace(/\r$/, "");
      buffer = buffer.slice(end + 1);
    }
  }
  if (buffer !== "") yield buffer.replace(/\r$/, "");
}

/**
 * Sends `text` as the demo user and prints the exchange; false (with the
 * reason printed) when the callback was refused or no reply came in time.
 *
 * @example Usage
 * ```ts ignore
 * import { say } from "./demo_interactive.ts";
 * if (!await say(demo, "hello")) Deno.exit(1);
 * ```
 */
export async function say(
  demo: DemoEnvironment,
  text: string,
  output: DemoOutput = CONSOLE,
): Promise<boolean> {
  try {
    const exchange = await demo.user.send(text);
    printExchange(output, exchange, `text ${preview(text)}`, true);
    return true;
  } catch (error) {
    if (error instanceof ReplyTimeoutError || error instanceof CallbackRejectedError) {
      output.err(`  ✗ ${error.message}`);
      return false;
    }
    throw error;
  }
}

/**
 * Sends each line as the demo user and prints the replies, until `/quit`, the
 * end of `lines` or `stop` resolves. A reply that does not arrive in time is
 * reported and the next line is read.
 *
 * @example Usage
 * ```ts ignore
 * import { runInteractive } from "./demo_interactive.ts";
 * await runInteractive(demo, ["hello", "/status"].values() as unknown as AsyncIterable<string>);
 * ```
 */
export async function runInteractive(
  demo: DemoEnvironment,
  lines: AsyncIterable<string>,
  options: { output?: DemoOutput; prompt?: boolean; stop?: Promise<void> } = {},
): Promise<void> {
  const output = options.output ?? CONSOLE;
  const prompt = options.prompt ?? false;
  output.out("");
  output.out(
    `Type a message as ${demo.user.userId} and press Enter. /help, /status and /reset go ` +
      "through the gateway; /quit or Ctrl+D ends.",
  );
  const iterator = lines[Symbol.asyncIterator]();
  const stopped = (options.stop ?? new Promise<never>(() => {})).then(() => "stop" as const);
  while (true) {
    if (prompt) await Deno.stdout.write(encoder.encode("you> "));
    const next = await Promise.race([iterator.next(), stopped]);
    if (next === "stop" || next.done) {
      if (prompt && next !== "stop") output.out("");
      break;
    }
    const line = next.value;
    if (line.trim() === "") continue;
    if (line.trim() === "/quit") break;
    await say(demo, line, output);
  }
  output.out("Bye.");
}

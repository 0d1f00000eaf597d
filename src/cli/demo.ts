/**
 * `demo`: a round trip on this machine with a simulated WeCom, no account and
 * no configuration; and `serve`'s demo mode when no app is configured.
 *
 * - `demo`: a scripted conversation (a text, a message WeCom retries, a long
 *   message split into parts, an image), each step checked; exit 0 when every
 *   reply arrived as expected, 1 otherwise.
 * - `demo --interactive`: the same environment, then each line of stdin is
 *   sent as the demo user and the replies are printed; `/quit` or EOF ends.
 * - {@linkcode serveDemoMode}: the demo environment as a long-running service
 *   on the configured host, port and KV.
 *
 * @example Usage
 * ```ts ignore
 * import { demoCommand } from "./demo.ts";
 * Deno.exit(await demoCommand.run(["--interactive"]));
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ConfigError, formatConfigError } from "../config/load.ts";
import { NO_APPS_KEY } from "../config/errors.ts";
import { type LogLevel, setLogSink } from "../log.ts";
import { type DemoEnvironment, type DemoOptions, startDemo } from "../simulator/demo.ts";
import {
  CallbackRejectedError,
  type Exchange,
  type MediaMessageType,
  type ReceivedMessage,
  ReplyTimeoutError,
  type SimulatedUser,
} from "../simulator/user.ts";
import type { FakeMessage } from "../simulator/wecom_api.ts";
import { type Command, runCommand } from "./command.ts";
import { consoleOutput } from "./context.ts";
import { isStartError } from "./start_failure.ts";
import { cliCommand, taskCommand } from "./invocation.ts";
import { demoAgentEnv, type DemoAgentFlags } from "./demo_agent.ts";
import { listJobs } from "../records/job_store/mod.ts";

const HELP = `wecom-gateway demo: a round trip on this machine with a simulated WeCom
(no WeCom account, no configuration).

Usage: wecom-gateway demo [--interactive] [--verbose] [--timeout SECONDS]
       wecom-gateway demo --agent hermes|openai [--agent-url URL] [--model NAME]
                          [--key-env NAME] [--say TEXT] [-i]
       deno task demo [-i]

Starts a simulated WeCom API and the gateway on 127.0.0.1 (random ports, KV in memory, echo agent,
a demo app with random keys for this run only), then:
  (no option)        runs a short scripted conversation: a text, a message WeCom sends three
                     times (its retries), a long message split into parts of at most 2048 bytes,
                     an image, a voice message and a video, each downloaded by the gateway from
                     the simulated WeCom. Exits 0 when every reply arrived as expected, 1 otherwise.
  -i, --interactive  reads lines from stdin, sends each as the demo user and prints the replies.
                     /help, /status, /reset go through the gateway like any text; /quit or
                     end of input (Ctrl+D) ends the demo.

Options:
  -v, --verbose        also show the gateway's own log (default: warnings and errors only)
  --timeout SECONDS    how long to wait for the replies to one message (default 10; 300 with
                       --agent)

Your own agent behind the simulated WeCom (instead of the echo agent):
  --agent hermes       Hermes Agent's API server (hermes gateway run, API_SERVER_ENABLED=true);
                       the key is read from API_SERVER_KEY (or --key-env NAME)
  --agent openai       any OpenAI-compatible server; needs --agent-url and --model; the key (if
                       any) from OPENAI_API_KEY (or --key-env NAME)
  --agent-url URL      the server's base URL ending in /v1 (hermes: default
                       http://127.0.0.1:8642/v1)
  --model NAME         the model (hermes: default hermes-agent)
  --say TEXT           the message sent (default a greeting); with -i, type your own
  Exits 0 when the agent answered, 1 when it failed (the reason is printed).

With no app configured, 'serve' runs this environment as a service on the configured port.`;

/** What the demo prints to; tests may capture it. */
export interface DemoOutput {
  out(text: string): void;
  err(text: string): void;
}

const CONSOLE: DemoOutput = consoleOutput;

const encoder = new TextEncoder();

function bytesOf(text: string): number {
  return encoder.encode(text).length;
}

/** `"text…"`: the start of `text` on one line, quoted. */
function preview(text: string, max = 60): string {
  const oneLine = text.replace(/\s*\n\s*/g, " ⏎ ");
  const chars = [...oneLine];
  return JSON.stringify(chars.length > max ? chars.slice(0, max).join("") + "…" : oneLine);
}

function stamp(ms: number): string {
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

function describePosts(exchange: Exchange, what: string): string[] {
  return exchange.posts.map((post, i) =>
    i === 0
      ? `${stamp(post.afterMs)} user → gateway   ${what}  → HTTP ${post.status}`
      : `${stamp(post.afterMs)} user → gateway   the same callback again (WeCom's retry ${i})` +
        `  → HTTP ${post.status}`
  );
}

/** Prints one exchange: the POSTs, then every reply. */
function printExchange(
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

/** A failed expectation of the scripted conversation. */
class DemoCheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DemoCheckError";
  }
}

function expect(condition: boolean, message: string): void {
  if (!condition) throw new DemoCheckError(message);
}

/**
 * The long message: numbered Chinese sentences without whitespace, so the
 * parts of the reply join back to exactly the original.
 *
 * @example Usage
 * ```ts
 * import { longDemoMessage } from "./demo.ts";
 * console.assert(new TextEncoder().encode(longDemoMessage(5000)).length >= 5000);
 * ```
 */
export function longDemoMessage(minBytes = 5000): string {
  let text = "";
  for (let n = 1; bytesOf(text) < minBytes; n++) {
    text += `第${n}句：企业微信的一条消息最多2048字节，网关把较长的回复切成几段，按顺序送达。`;
  }
  return text;
}

function sentenceRange(part: string): string {
  const numbers = [...part.matchAll(/第(\d+)句/g)].map((match) => match[1]);
  if (numbers.length === 0) return "";
  return numbers.length === 1
    ? ` (第${numbers[0]}句)`
    : ` (第${numbers[0]}句 … 第${numbers[numbers.length - 1]}句)`;
}

/** One step of the scripted conversation. */
interface Step {
  title: string;
  run(user: SimulatedUser, output: DemoOutput): Promise<string>;
}

/**
 * A media message whose file the simulated WeCom serves: the gateway must
 * download it (media/get) before the agent runs, and the echo agent's reply
 * names the file it got. A reply without the file (a download that failed)
 * fails the step.
 */
function mediaStep(type: MediaMessageType, title: string): Step {
  return {
    title,
    async run(user, output) {
      const { file, mediaId, ...exchange } = await user.sendMedia(type);
      const what = `${type} ${file.filename} (${file.bytes.length} bytes, ${file.contentType}), ` +
        `MediaId ${mediaId.slice(0, 12)}…`;
      for (const line of describePosts(exchange, what)) output.out(`  ${line}`);
      for (const reply of exchange.replies) {
        output.out(`  ${stamp(reply.afterMs)} gateway → user   ${reply.msgtype}:`);
        output.out(`             │ ${reply.content}`);
      }
      const reply = exchange.replies[0]?.content ?? "";
      const downloaded = new RegExp(
        `^\\[${type}\\] .* size=${file.bytes.length} type=${file.contentType.replace("/", "\\/")}$`,
      );
      expect(
        exchange.replies.length === 1 && downloaded.test(reply) && reply.includes(mediaId),
        `expected one reply naming the downloaded file (size=${file.bytes.length} ` +
          `type=${file.contentType}), got ${
            exchange.replies.map((one) => preview(one.content, 200)).join(", ") || "none"
          }. The gateway could not download the file: 'demo --verbose' shows why.`,
      );
      return `the gateway downloaded the ${type} (media/get, ${file.bytes.length} bytes) before ` +
        "the agent ran; the echo agent's reply is what it was given: the file's name, size and type";
    },
  };
}

const STEPS: Step[] = [
  {
    title: "A text message",
    async run(user, output) {
      const text = "你好, WeCom!";
      const exchange = await user.send(text);
      printExchange(output, exchange, `text ${preview(text)}`, false);
      expect(
        exchange.replies.length === 1 && exchange.replies[0].content === text,
        `expected one reply ${preview(text)}, got ${exchange.replies.length}: ${
          exchange.replies.map((reply) => preview(reply.content)).join(", ")
        }`,
      );
      return "the echo agent answered with the same text";
    },
  },
  {
    title: "WeCom retries a message (the same MsgId 3 times, as after a 5 s timeout)",
    async run(user, output) {
      const text = "Did you get this? 收到了吗？";
      const exchange = await user.send(text, { times: 3 });
      printExchange(output, exchange, `text ${preview(text)}, MsgId ${exchange.msgId}`, false);
      expect(
        exchange.replies.length === 1 && exchange.replies[0].content === text,
        `expected exactly one reply to the 3 deliveries of MsgId ${exchange.msgId}, got ${exchange.replies.length}`,
      );
      return "3 deliveries of one MsgId, exactly 1 reply: the gateway dropped the 2 retries";
    },
  },
  {
    title: "A long message (WeCom cuts text at 2048 bytes, so the reply comes in parts)",
    async run(user, output) {
      const text = longDemoMessage();
      const exchange = await user.send(text);
      for (
        const line of describePosts(exchange, `text of ${bytesOf(text)} bytes ${preview(text, 24)}`)
      ) {
        output.out(`  ${line}`);
      }
      exchange.replies.forEach((reply, i) => {
        output.out(
          `  ${stamp(reply.afterMs)} gateway → user   part ${i + 1}/${exchange.replies.length}: ` +
            `${reply.bytes} bytes${sentenceRange(reply.content)}`,
        );
      });
      const sizes = exchange.replies.map((reply) => reply.bytes);
      expect(exchange.replies.length >= 3, `expected at least 3 parts, got ${sizes.length}`);
      expect(
        sizes.every((size) => size <= 2048),
        `expected parts of at most 2048 bytes, got ${sizes.join(", ")}`,
      );
      expect(
        exchange.replies.map((reply) => reply.content).join("") === text,
        "expected the parts, joined in the order they arrived, to be the original text",
      );
      return `${sizes.length} parts of ${sizes.join(", ")} bytes (each ≤ 2048), in order; ` +
        "joined they are the original text";
    },
  },
  mediaStep("image", "An image (the simulated WeCom holds a real PNG for its MediaId)"),
  mediaStep("voice", "A voice message (AMR, as WeCom records voice)"),
  mediaStep("video", "A video"),
];

/** What `demo --agent` sends when no `--say` is given. */
export const DEFAULT_AGENT_GREETING =
  "你好！请用一句话介绍你自己。(Hello! Introduce yourself in one sentence.)";

/**
 * Sends `text` once to the configured agent through the simulated WeCom and
 * prints what the member got; 0 when the agent answered, 1 when its job
 * failed (the operator's reason is printed) or nothing arrived.
 *
 * @example Usage
 * ```ts ignore
 * import { askAgentOnce } from "./demo.ts";
 * const code = await askAgentOnce(demo, "hello");
 * ```
 */
export async function askAgentOnce(
  demo: DemoEnvironment,
  text: string,
  output: DemoOutput = CONSOLE,
): Promise<number> {
  output.out("");
  output.out(`Asking your ${demo.config.agent.kind} agent through the simulated WeCom…`);
  try {
    const exchange = await demo.user.send(text);
    printExchange(output, exchange, `text ${preview(text)}`, true);
  } catch (error) {
    if (error instanceof ReplyTimeoutError || error instanceof CallbackRejectedError) {
      output.err(`  ✗ ${error.message}`);
      return 1;
    }
    throw error;
  }
  const [failed] = await listJobs(demo.gateway.kv, { state: "failed", limit: 1 });
  if (failed) {
    output.err(`  ✗ the agent failed; the member got the apology. Reason: ${failed.error}`);
    output.err("    Run 'wecom-gateway check --online' with the same settings for the fix.");
    return 1;
  }
  output.out(
    "  ✓ your agent answered through the simulated WeCom. Next: the README's setup steps.",
  );
  return 0;
}

/** Prints where everything runs. */
function printEnvironment(output: DemoOutput, demo: DemoEnvironment, kvLabel: string): void {
  const app = demo.app;
  output.out(`  simulated WeCom API  ${demo.api.url}  (gettoken, message/send; in this process)`);
  output.out(
    `  gateway              ${demo.callbackUrl}  (agent ${demo.config.agent.kind}, KV ${kvLabel})`,
  );
  output.out(`  demo app             corp ${app.corpId}, agent ${app.agentId}  (random keys)`);
  output.out(`  simulated member     ${demo.user.userId}`);
  output.out("Times in [brackets] count from the moment the member sent the message.");
}

/**
 * Runs the scripted conversation, checking every step; resolves to the exit
 * code (0 when every reply arrived as expected, 1 at the first that did not).
 *
 * @example Usage
 * ```ts ignore
 * import { startDemo } from "../simulator/demo.ts";
 * import { runScript } from "./demo.ts";
 * const demo = await startDemo();
 * const code = await runScript(demo);
 * await demo.close();
 * ```
 */
export async function runScript(
  demo: DemoEnvironment,
  output: DemoOutput = CONSOLE,
): Promise<number> {
  const started = performance.now();
  for (const [i, step] of STEPS.entries()) {
    output.out("");
    output.out(`${i + 1}. ${step.title}`);
    try {
      const conclusion = await step.run(demo.user, output);
      output.out(`  ✓ ${conclusion}`);
    } catch (error) {
      if (
        error instanceof DemoCheckError || error instanceof ReplyTimeoutError ||
        error instanceof CallbackRejectedError
      ) {
        output.err(`  ✗ ${error.message}`);
        output.err(`\nThe demo failed at step ${i + 1} (${step.title}).`);
        return 1;
      }
      throw error;
    }
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  output.out("");
  output.out(`Done: ${STEPS.length} exchanges, every reply arrived as expected (${seconds} s).`);
  output.out(`Type your own messages with: ${taskCommand("demo")} --interactive`);
  return 0;
}

/**
 * Lines of `readable`, without their line ends (`\n` or `\r\n`).
 *
 * @example Usage
 * ```ts
 * import { readLines } from "./demo.ts";
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
 * Sends each line as the demo user and prints the replies, until `/quit`, the
 * end of `lines` or `stop` resolves. A reply that does not arrive in time is
 * reported and the next line is read.
 *
 * @example Usage
 * ```ts ignore
 * import { runInteractive } from "./demo.ts";
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
    try {
      const exchange = await demo.user.send(line);
      printExchange(output, exchange, `text ${preview(line)}`, true);
    } catch (error) {
      if (error instanceof ReplyTimeoutError || error instanceof CallbackRejectedError) {
        output.err(`  ✗ ${error.message}`);
        continue;
      }
      throw error;
    }
  }
  output.out("Bye.");
}

/** Quiets the gateway's own log to warnings unless `verbose`; returns the restore function. */
function quietLogs(verbose: boolean): () => void {
  if (verbose) return () => {};
  const probe = { format: "human" as const, level: "warn" as LogLevel, write: () => {} };
  const previous = setLogSink(probe);
  const quiet: LogLevel = previous.level === "error" ? "error" : "warn";
  setLogSink({ ...previous, level: quiet });
  return () => setLogSink(previous);
}

/** Calls `onSignal` on SIGINT/SIGTERM (a second one exits at once); returns the remover. */
function onStopSignal(onSignal: () => void): () => void {
  let signals = 0;
  const handler = () => {
    if (++signals > 1) Deno.exit(130);
    onSignal();
  };
  Deno.addSignalListener("SIGINT", handler);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", handler);
  return () => {
    Deno.removeSignalListener("SIGINT", handler);
    if (Deno.build.os !== "windows") Deno.removeSignalListener("SIGTERM", handler);
  };
}

interface DemoFlags {
  /** Your own agent instead of the echo agent. */
  agent?: DemoAgentFlags;
  /** The message sent to that agent. */
  say?: string;
  interactive: boolean;
  verbose: boolean;
  timeoutMs: number;
}

function parseDemoArgs(args: string[]): DemoFlags | string {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        interactive: { type: "boolean", short: "i" },
        verbose: { type: "boolean", short: "v" },
        timeout: { type: "string" },
        agent: { type: "string" },
        "agent-url": { type: "string" },
        model: { type: "string" },
        "key-env": { type: "string" },
        say: { type: "string" },
      },
    }));
  } catch (error) {
    return `${(error as Error).message}. Run 'wecom-gateway demo --help' for its options.`;
  }
  const agent = values.agent;
  if (agent !== undefined && agent !== "hermes" && agent !== "openai") {
    return `Cannot run the demo as '--agent' must be hermes or openai: current value is ` +
      `${JSON.stringify(agent)}.`;
  }
  if (agent === undefined && (values["agent-url"] || values.model || values.say)) {
    return "Cannot run the demo as --agent-url, --model and --say need --agent hermes or " +
      "--agent openai.";
  }
  const seconds = values.timeout === undefined ? (agent ? 300 : 10) : Number(values.timeout);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    return `Cannot run the demo as '--timeout' must be a number of seconds greater than 0: ` +
      `current value is ${JSON.stringify(values.timeout)}.`;
  }
  return {
    interactive: values.interactive ?? false,
    verbose: values.verbose ?? false,
    timeoutMs: Math.round(seconds * 1000),
    ...(agent
      ? {
        agent: {
          agent,
          url: values["agent-url"],
          model: values.model,
          keyEnv: values["key-env"],
        },
        say: values.say,
      }
      : {}),
  };
}

/** The `demo` command. */
export const demoCommand: Command = {
  name: "demo",
  summary: "a round trip on this machine with a simulated WeCom (no account needed)",
  help: HELP,
  async run(args) {
    return await runCommand(args, HELP, CONSOLE, () => runDemo(args));
  },
};

async function runDemo(args: string[]): Promise<number> {
  const flags = parseDemoArgs(args);
  if (typeof flags === "string") {
    console.error(flags);
    return 2;
  }
  const restoreLogs = quietLogs(flags.verbose);
  const output = CONSOLE;
  output.out("wecom-gateway demo: the gateway and a simulated WeCom on this machine.");
  output.out("");
  let env: Record<string, string> | undefined;
  if (flags.agent) {
    const built = demoAgentEnv(flags.agent, Deno.env.toObject());
    if (typeof built === "string") {
      console.error(built);
      return 2;
    }
    env = built;
  }
  let demo: DemoEnvironment;
  try {
    demo = await startDemo({ replyTimeoutMs: flags.timeoutMs, ...(env ? { env } : {}) });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(formatConfigError(error));
    restoreLogs();
    return 2;
  }
  try {
    printEnvironment(output, demo, "in memory");
    if (flags.agent && !flags.interactive) {
      return await askAgentOnce(demo, flags.say ?? DEFAULT_AGENT_GREETING, output);
    }
    if (!flags.interactive) return await runScript(demo, output);
    const stop = Promise.withResolvers<void>();
    const removeSignals = onStopSignal(() => stop.resolve());
    try {
      await runInteractive(demo, readLines(Deno.stdin.readable), {
        output,
        prompt: Deno.stdin.isTerminal(),
        stop: stop.promise,
      });
    } finally {
      removeSignals();
    }
    return 0;
  } finally {
    await demo.close();
    restoreLogs();
  }
}

/**
 * True when the only problem of `error` is that no app is configured (then
 * `serve` starts in demo mode).
 *
 * @example Usage
 * ```ts
 * import { ConfigError } from "../config/errors.ts";
 * import { noAppsProblem } from "../config/validate.ts";
 * import { onlyNoApps } from "./demo.ts";
 * console.assert(onlyNoApps(new ConfigError([noAppsProblem()], { noApps: true })));
 * ```
 */
export function onlyNoApps(error: ConfigError): boolean {
  return error.noApps && error.problems.every((problem) => problem.key === NO_APPS_KEY);
}

/**
 * The one-line `simulate send` command that talks to the demo instance (its
 * throwaway keys included).
 *
 * @example Usage
 * ```ts ignore
 * console.log(simulateCommandLine(demo, "hello")); // deno task cli simulate send --url … --text "hello"
 * ```
 */
export function simulateCommandLine(
  demo: DemoEnvironment,
  text = "你好",
  cli: string = cliCommand(),
): string {
  return [...simulateBase(demo, cli), `--text ${JSON.stringify(text)}`].join(" ");
}

/** `simulate send` with the demo's keys, up to the message options. */
function simulateBase(demo: DemoEnvironment, cli: string): string[] {
  const app = demo.app;
  return [
    `${cli} simulate send`,
    `--url ${demo.callbackUrl}`,
    `--corp-id ${app.corpId}`,
    `--agent-id ${app.agentId}`,
    `--token ${app.token}`,
    `--aes-key ${app.encodingAesKey}`,
    `--user ${demo.user.userId}`,
  ];
}

/**
 * The `simulate send` command that uploads a local file to the demo's simulated WeCom and
 * sends it as a `type` message (its Secret included, for the upload's token).
 *
 * @example Usage
 * ```ts ignore
 * console.log(simulateFileCommandLine(demo, "image")); // … --type image --file PATH --api … --corp-secret …
 * ```
 */
export function simulateFileCommandLine(
  demo: DemoEnvironment,
  type: MediaMessageType,
  cli: string = cliCommand(),
): string {
  return [
    ...simulateBase(demo, cli),
    `--type ${type}`,
    "--file PATH",
    `--api ${demo.api.url}`,
    `--corp-secret ${demo.app.corpSecret}`,
  ].join(" ");
}

/** Prints each message the simulated WeCom receives from now on; returns the stopper. */
function watchDeliveries(
  demo: DemoEnvironment,
  output: DemoOutput,
  skip: (message: FakeMessage) => boolean,
): () => void {
  let seen = demo.api.state.delivered.length;
  const timer = setInterval(() => {
    const delivered = demo.api.state.delivered;
    for (; seen < delivered.length; seen++) {
      const message = delivered[seen];
      if (skip(message)) continue;
      const content = typeof message.payload.content === "string"
        ? message.payload.content
        : `[${message.msgtype}]`;
      output.out(
        `  ${new Date(message.at).toISOString()} gateway → ${message.touser}   ` +
          // A one-line description of a file (what the agent got) in full; long texts shortened.
          `${message.msgtype} ${
            preview(content, /^\[(image|voice|video)\] /.test(content) ? 400 : 60)
          }`,
      );
    }
  }, 100);
  return () => clearInterval(timer);
}

/**
 * `serve` with no app configured: runs the demo environment as a service on
 * the configured host, port, path and KV, with the simulated WeCom on
 * 127.0.0.1. Interactive when stdin is a terminal; otherwise serves until
 * SIGINT or SIGTERM, printing each reply the simulated WeCom receives. The
 * caller has already printed the configuration error. Resolves to the exit code.
 *
 * @example Usage
 * ```ts ignore
 * import { serveDemoMode } from "./demo.ts";
 * Deno.exit(await serveDemoMode(Deno.args));
 * ```
 */
export async function serveDemoMode(
  args: string[],
  options: DemoOptions & { output?: DemoOutput } = {},
): Promise<number> {
  const { output = CONSOLE, ...demoOptions } = options;
  output.out("Starting in demo mode with a simulated WeCom (no account needed)…");
  let demo: DemoEnvironment;
  try {
    demo = await startDemo({ env: Deno.env.toObject(), cwd: Deno.cwd(), args, ...demoOptions });
  } catch (error) {
    if (error instanceof ConfigError) {
      output.err(formatConfigError(error));
      return 2;
    }
    if (isStartError(error)) {
      output.err(error.message);
      return 2;
    }
    throw error;
  }
  const { config, app } = demo;
  const address = demo.gateway.address!;
  output.out("");
  output.out(
    `wecom-gateway running in DEMO MODE (agent ${config.agent.kind}, KV ${config.kvPath})`,
  );
  output.out(`  listening on:        ${address.hostname}:${address.port}`);
  output.out(`  callback URL:        ${demo.callbackUrl}`);
  output.out(`  health:              ${demo.healthUrl}`);
  const operator = demo.gateway.operatorAddress;
  if (operator) {
    output.out(
      `  operator console:    http://${operator.hostname}:${operator.port}/  (and /metrics)`,
    );
  }
  output.out(`  simulated WeCom API: ${demo.api.url}  (replies are delivered here, not to WeCom)`);
  output.out(`  demo app:            corp ${app.corpId}, agent ${app.agentId}`);
  output.out(
    "  DEMO-ONLY keys, generated for this run and useless elsewhere: " +
      `token ${app.token}, AES key ${app.encodingAesKey}, secret ${app.corpSecret}`,
  );
  output.out("To talk to this instance from another terminal (replies are printed here):");
  output.out(`  ${simulateCommandLine(demo)}`);
  output.out("To send a file (a JPG or PNG; --type voice takes AMR, --type video MP4):");
  output.out(`  ${simulateFileCommandLine(demo, "image")}`);
  output.out(
    `(\`${taskCommand("demo")} -i\` starts its own instance with other keys, so it cannot reach ` +
      "this one.)",
  );
  output.out("Configure a real app with the variables above to leave demo mode.");

  const stop = Promise.withResolvers<void>();
  const removeSignals = onStopSignal(() => stop.resolve());
  const interactive = Deno.stdin.isTerminal();
  // At a prompt the gateway's info lines would bury the conversation.
  const restoreLogs = quietLogs(!interactive || Deno.env.get("LOG_LEVEL") !== undefined);
  if (interactive) {
    output.out("(The gateway logs warnings only here; set LOG_LEVEL=info for more.)");
  }
  const stopWatching = watchDeliveries(
    demo,
    output,
    (message) => interactive && message.touser === demo.user.userId,
  );
  try {
    if (interactive) {
      await runInteractive(demo, readLines(Deno.stdin.readable), {
        output,
        prompt: true,
        stop: stop.promise,
      });
    } else {
      await stop.promise;
    }
    output.out("Stopping the demo: finishing in-flight callbacks and replies…");
  } finally {
    stopWatching();
    removeSignals();
    await demo.close();
    restoreLogs();
  }
  return 0;
}

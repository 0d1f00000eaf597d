/**
 * `demo`: a round trip on this machine with a simulated WeCom, no account and
 * no configuration; and `serve`'s demo mode when no app is configured.
 *
 * - `demo`: a scripted conversation (a text, a message WeCom retries, a long
 *   message split into parts, an image), each step checked; exit 0 when every
 *   reply arrived as expected, 1 otherwise.
 * - `demo --interactive`: the same environment, then each line of stdin is
 *   sent as the demo user and the replies are printed; `/quit` or EOF ends.
 * - `demo --agent hermes|openai`: the same environment in front of a real
 *   agent; one message is sent and the answer printed.
 * - `serveDemoMode`: the demo environment as a long-running service on the
 *   configured host, port and KV.
 *
 * This module is the `demo` command (its flags and help); each of the above
 * lives in its own module (`demo_script.ts`, `demo_interactive.ts`,
 * `demo_agent.ts`, `demo_serve.ts`), with the printing in `demo_output.ts`;
 * import those pieces from their modules.
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
import { type DemoEnvironment, startDemo } from "../simulator/demo.ts";
import { type Command, runCommand } from "./command.ts";
import {
  askAgentOnce,
  DEFAULT_AGENT_GREETING,
  demoAgentEnv,
  type DemoAgentFlags,
} from "./demo_agent.ts";
import { readLines, runInteractive } from "./demo_interactive.ts";
import { CONSOLE, printEnvironment } from "./demo_output.ts";
import { runScript } from "./demo_script.ts";
import { onStopSignal, quietLogs } from "./demo_session.ts";

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

/**
 * `serve` with no app configured: the demo environment as a long-running
 * service on the configured host, port, path and KV, with the simulated WeCom
 * on 127.0.0.1; the `simulate send` command lines that reach it; each reply
 * the simulated WeCom receives printed as it arrives.
 *
 * @example Usage
 * ```ts ignore
 * import { serveDemoMode } from "./demo_serve.ts";
 * Deno.exit(await serveDemoMode(Deno.args));
 * ```
 *
 * @module
 */

import { ConfigError, formatConfigError } from "../config/load.ts";
import { NO_APPS_KEY } from "../config/errors.ts";
import { type DemoEnvironment, type DemoOptions, startDemo } from "../simulator/demo.ts";
import type { MediaMessageType } from "../simulator/user.ts";
import type { FakeMessage } from "../simulator/wecom_api.ts";
import { CONSOLE, type DemoOutput, preview } from "./demo_output.ts";
import { readLines, runInteractive } from "./demo_interactive.ts";
import { onStopSignal, quietLogs } from "./demo_session.ts";
import { isStartError } from "./start_failure.ts";
import { cliCommand, taskCommand } from "./invocation.ts";

/**
 * True when the only problem of `error` is that no app is configured (then
 * `serve` starts in demo mode).
 *
 * @example Usage
 * ```ts
 * import { ConfigError } from "../config/errors.ts";
 * import { noAppsProblem } from "../config/validate.ts";
 * import { onlyNoApps } from "./demo_serve.ts";
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
 * import { serveDemoMode } from "./demo_serve.ts";
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

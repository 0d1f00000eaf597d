/**
 * The shape of one CLI command, and how every command treats `--help` and a
 * wrong command line.
 *
 * @module
 */

import { describeUsageError, UsageError } from "./usage_error.ts";
import { type CliContext, defaultContext } from "./context.ts";

/** One command of the `wecom-gateway` CLI. */
export interface Command {
  /** What the user types, e.g. "serve". */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The full `--help` text. */
  help: string;
  /** Runs the command with the arguments after its name; resolves to the exit code. */
  run(args: string[]): Promise<number>;
}

/** True when `args` ask for help. */
export function wantsHelp(args: string[]): boolean {
  return args.includes("--help") || args.includes("-h");
}

/**
 * Runs a command's `body` the way every command runs: with `--help` (or `-h`)
 * in `args` it prints `help` and resolves to 0 without running `body`; a
 * {@linkcode UsageError} thrown by `body` is printed with a pointer to the
 * command's `--help` and resolves to 2. Any other error is thrown on.
 *
 * @example Usage
 * ```ts
 * import { UsageError } from "./usage_error.ts";
 * import { runCommand } from "./command.ts";
 * import { captureContext } from "./context.ts";
 * const { context, stderr } = captureContext();
 * const code = await runCommand([], "help text", context, () => {
 *   throw new UsageError("check", "'check' has no option --x.");
 * });
 * console.assert(code === 2 && stderr().includes("wecom-gateway check --help"));
 * ```
 */
export async function runCommand(
  args: string[],
  help: string,
  output: Pick<CliContext, "out" | "err">,
  body: () => Promise<number>,
): Promise<number> {
  if (wantsHelp(args)) {
    output.out(help);
    return 0;
  }
  try {
    return await body();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    output.err(describeUsageError(error));
    return 2;
  }
}

/**
 * A command that runs `run` in `context` (tests) or, when none is given, in
 * the real process ({@linkcode defaultContext}), with `--help` and usage
 * errors handled by {@linkcode runCommand}.
 *
 * @example Usage
 * ```ts
 * import { createCommand } from "./command.ts";
 * import { captureContext } from "./context.ts";
 * const { context, stdout } = captureContext();
 * const hello = createCommand(
 *   { name: "hello", summary: "say hello", help: "wecom-gateway hello: says hello." },
 *   context,
 *   (_args, context) => {
 *     context.out("hello");
 *     return Promise.resolve(0);
 *   },
 * );
 * console.assert(await hello.run([]) === 0 && stdout() === "hello\n");
 * ```
 */
export function createCommand(
  about: Omit<Command, "run">,
  context: CliContext | undefined,
  run: (args: string[], context: CliContext) => Promise<number>,
): Command {
  return {
    ...about,
    async run(args) {
      const current = context ?? defaultContext();
      return await runCommand(args, about.help, current, () => run(args, current));
    },
  };
}

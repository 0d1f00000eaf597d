/**
 * The shape of one CLI command.
 *
 * @module
 */

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

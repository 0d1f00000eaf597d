/**
 * A wrong command line, and how it is told to the user: a usage error names
 * the command, and its description points at that command's `--help`. Apart
 * from the option parser (`./args.ts`), so that commands that parse nothing
 * (`serve`) do not load it.
 *
 * @example Usage
 * ```ts
 * import { describeUsageError, UsageError } from "./usage_error.ts";
 * const text = describeUsageError(new UsageError("check", "'check' has no option --x."));
 * console.assert(text.includes("wecom-gateway check --help"));
 * ```
 *
 * @module
 */

/** A wrong command line: printed with a hint, exit code 2. */
export class UsageError extends Error {
  /** The command concerned, e.g. `jobs list`. */
  readonly command: string;

  constructor(command: string, message: string) {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

/**
 * The text printed for a usage error: the problem and where to find the options.
 *
 * @example Usage
 * ```ts
 * import { describeUsageError, UsageError } from "./usage_error.ts";
 * const text = describeUsageError(new UsageError("check", "'check' has no option --x."));
 * console.assert(text.includes("wecom-gateway check --help"));
 * ```
 */
export function describeUsageError(error: UsageError): string {
  return `${error.message} Run 'wecom-gateway ${error.command} --help' for the options.`;
}

/**
 * Reading a command's options strictly: an unknown option or a missing value
 * is a usage error that names the option and where to look for the right one.
 *
 * @example Usage
 * ```ts
 * import { parseOptions } from "./args.ts";
 * const parsed = parseOptions(["--limit", "5", "--json"], {
 *   command: "jobs list",
 *   strings: ["limit"],
 *   booleans: ["json"],
 * });
 * console.assert(parsed.values.limit === "5" && parsed.values.json === true);
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { UsageError } from "./usage_error.ts";

export { describeUsageError, UsageError } from "./usage_error.ts";

/** The options a command accepts. */
export interface OptionSpec {
  /** The command as typed, e.g. `jobs list` (for messages). */
  command: string;
  /** Options taking a value (`--name value` or `--name=value`). */
  strings?: string[];
  /** Flags without a value. */
  booleans?: string[];
  /** Largest number of positional arguments accepted (default 0). */
  maxPositionals?: number;
}

/** Parsed options and positional arguments. */
export interface ParsedOptions {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/**
 * Parses `args` against `spec`.
 *
 * @throws {UsageError} On an unknown option, a missing value or too many positional arguments.
 *
 * @example Usage
 * ```ts
 * import { parseOptions, UsageError } from "./args.ts";
 * try {
 *   parseOptions(["--nope"], { command: "check" });
 * } catch (error) {
 *   console.assert(error instanceof UsageError);
 * }
 * ```
 */
export function parseOptions(args: string[], spec: OptionSpec): ParsedOptions {
  const options: Record<string, { type: "string" | "boolean" }> = {};
  for (const name of spec.strings ?? []) options[name] = { type: "string" };
  for (const name of spec.booleans ?? []) options[name] = { type: "boolean" };
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (error) {
    const message = (error as Error).message;
    const code = (error as { code?: string }).code;
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      const name = /'([^']+)'/.exec(message)?.[1] ?? message;
      throw new UsageError(spec.command, `'${spec.command}' has no option ${name}.`);
    }
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      const name = /'(--[\w-]+)/.exec(message)?.[1] ?? message;
      throw new UsageError(spec.command, `The option ${name} needs a value.`);
    }
    throw new UsageError(spec.command, message);
  }
  const max = spec.maxPositionals ?? 0;
  if (parsed.positionals.length > max) {
    const extra = parsed.positionals.slice(max).map((arg) => `'${arg}'`).join(", ");
    throw new UsageError(spec.command, `'${spec.command}' does not take ${extra}.`);
  }
  return {
    values: parsed.values as Record<string, string | boolean | undefined>,
    positionals: parsed.positionals,
  };
}

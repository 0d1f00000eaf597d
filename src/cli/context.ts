/**
 * What an operator command reads from and writes to: the environment, the
 * working directory, the terminal and the clock. Commands take a
 * {@linkcode CliContext} so that tests can run them in-process with their own
 * environment and capture their output; the real CLI uses
 * {@linkcode defaultContext}.
 *
 * @example Usage
 * ```ts
 * import { captureContext } from "./context.ts";
 * const { context, stdout } = captureContext({ env: { WECOM_GATEWAY_KV: ":memory:" } });
 * context.out("hello");
 * console.assert(stdout() === "hello\n");
 * ```
 *
 * @module
 */

import { ConfigError, formatConfigError, loadConfig } from "../config/load.ts";
import type { GatewayConfig } from "../config/types.ts";

/** The process surroundings of one command run. */
export interface CliContext {
  /** Environment variables (never modified). */
  env: Record<string, string>;
  /** Working directory: `.env`, the default `config.yaml` and relative paths. */
  cwd: string;
  /** Writes text and a newline to standard output. */
  out(text: string): void;
  /** Writes text and a newline to standard error. */
  err(text: string): void;
  /** Clock, epoch ms. */
  now(): number;
  /** Operating system (`Deno.build.os`). */
  os: typeof Deno.build.os;
}

/**
 * Standard output and error of this process (the console).
 *
 * @example Usage
 * ```ts
 * import { consoleOutput } from "./context.ts";
 * consoleOutput.err("printed to standard error");
 * ```
 */
export const consoleOutput: Pick<CliContext, "out" | "err"> = {
  out: (text) => console.log(text),
  err: (text) => console.error(text),
};

/**
 * The real process: `Deno.env`, `Deno.cwd()`, the console and `Date.now`.
 *
 * @example Usage
 * ```ts ignore
 * import { defaultContext } from "./context.ts";
 * defaultContext().out("hello");
 * ```
 */
export function defaultContext(): CliContext {
  return {
    env: Deno.env.toObject(),
    cwd: Deno.cwd(),
    ...consoleOutput,
    now: Date.now,
    os: Deno.build.os,
  };
}

/**
 * A context whose output is collected in memory (tests), with `overrides`.
 *
 * @example Usage
 * ```ts
 * import { captureContext } from "./context.ts";
 * const { context, stderr } = captureContext();
 * context.err("oops");
 * console.assert(stderr().includes("oops"));
 * ```
 */
export function captureContext(overrides: Partial<CliContext> = {}): {
  context: CliContext;
  stdout: () => string;
  stderr: () => string;
} {
  let stdout = "";
  let stderr = "";
  return {
    context: {
      env: {},
      cwd: Deno.cwd(),
      now: Date.now,
      os: Deno.build.os,
      ...overrides,
      out: (text) => (stdout += text + "\n"),
      err: (text) => (stderr += text + "\n"),
    },
    stdout: () => stdout,
    stderr: () => stderr,
  };
}

/**
 * Loads the configuration in `context` (with `--config PATH` from `args`), or
 * prints every problem found (naming each key to fix) and returns null.
 *
 * @example Usage
 * ```ts ignore
 * import { defaultContext, loadConfigIn } from "./context.ts";
 * const config = await loadConfigIn(defaultContext(), ["--config", "config.yaml"]);
 * if (!config) Deno.exit(2);
 * ```
 */
export async function loadConfigIn(
  context: CliContext,
  args: string[],
): Promise<GatewayConfig | null> {
  try {
    return await loadConfig({ args, env: context.env, cwd: context.cwd });
  } catch (error) {
    if (error instanceof ConfigError) {
      context.err(formatConfigError(error));
      return null;
    }
    throw error;
  }
}

/**
 * Configuration problems and how they are shown to the operator.
 *
 * `loadConfig()` collects every problem it finds and throws one `ConfigError`
 * holding them all, so a single run shows everything that needs fixing.
 * Messages never contain secret values (at most their length).
 *
 * @example Usage
 * ```ts
 * import { ConfigError, formatConfigError } from "./errors.ts";
 * const error = new ConfigError([{
 *   app: "default",
 *   key: "agent_id",
 *   env: "WECOM_CALLBACK_AGENT_ID",
 *   message: "is missing.",
 *   fix: "Set it to the app's AgentId.",
 * }]);
 * console.assert(formatConfigError(error).includes("WECOM_CALLBACK_AGENT_ID"));
 * ```
 *
 * @module
 */

import { APP_FIELDS } from "./keys.ts";

/** `key` of the problem that says no app is configured (rendered as a block by `formatConfigError`). */
export const NO_APPS_KEY: string = APP_FIELDS.map((field) => field.key).join(", ");

/** Where a value came from. */
export type ConfigSource = "environment" | ".env" | "config.yaml" | "arguments";

/** One thing wrong with the configuration. */
export interface ConfigProblem {
  /** Name of the app concerned (or `apps[2]` when the entry has no usable name). */
  app?: string;
  /** The key: bare for keys under `platforms.wecom_callback.extra` or an app, else a dotted path. */
  key: string;
  /** The environment variable that also sets this key, if any. */
  env?: string;
  /** Where the offending value came from, when one was given. */
  from?: ConfigSource;
  /** What is wrong (never contains a secret value). */
  message: string;
  /** What to do about it. */
  fix: string;
}

/** Options of {@linkcode ConfigError}. */
export interface ConfigErrorOptions {
  /** True when no WeCom app is configured at all. */
  noApps?: boolean;
  /** The config file that was read, if any. */
  configPath?: string;
}

/** Thrown by `loadConfig()` with every problem found. */
export class ConfigError extends Error {
  /** All problems, in the order found. */
  readonly problems: ConfigProblem[];
  /** True when no app is configured at all (no flat keys, no `apps` list, no variables). */
  readonly noApps: boolean;
  /** The config file that was read, if any. */
  readonly configPath?: string;

  /** Creates the error; its `message` is the full terminal rendering. */
  constructor(problems: ConfigProblem[], options: ConfigErrorOptions = {}) {
    super("invalid configuration");
    this.name = "ConfigError";
    this.problems = problems;
    this.noApps = options.noApps ?? false;
    this.configPath = options.configPath;
    this.message = formatConfigError(this);
  }
}

function describeSource(from: ConfigSource): string {
  switch (from) {
    case "environment":
      return "set in the environment";
    case ".env":
      return "set in .env";
    case "config.yaml":
      return "set in config.yaml";
    case "arguments":
      return "given on the command line";
  }
}

/** `app "x", key / ENV (set in .env)`: the part of a line that says what is concerned. */
function subject(problem: ConfigProblem): string {
  const parts: string[] = [];
  if (problem.app !== undefined) parts.push(`app "${problem.app}", `);
  parts.push(problem.key);
  if (problem.env) parts.push(` / ${problem.env}`);
  if (problem.from) parts.push(` (${describeSource(problem.from)})`);
  return parts.join("");
}

/** The block that tells exactly what to set when no app is configured. */
function noAppsGuide(): string[] {
  const width = Math.max(...APP_FIELDS.map((field) => field.env.length));
  const keyWidth = Math.max(...APP_FIELDS.map((field) => field.key.length));
  return [
    "",
    "No WeCom app is configured. Set these five variables in the environment or in .env",
    "(or the same keys under platforms.wecom_callback.extra in config.yaml). In the WeCom",
    "admin console (https://work.weixin.qq.com/wework_admin) you find:",
    ...APP_FIELDS.map((field) =>
      `  ${field.env.padEnd(width)}  ${field.key.padEnd(keyWidth)}  ${field.label}: ${field.where}`
    ),
    "For several apps use the apps: list under platforms.wecom_callback.extra (see config.example.yaml).",
  ];
}

/**
 * Renders a `ConfigError` for a terminal: a summary line, then one line per
 * problem naming the app, the key (config.yaml key and environment variable)
 * and the fix. When no app is configured, a block lists the five variables and
 * where to find each in the WeCom admin console. With `startsInDemoMode` (the
 * caller starts in demo mode because no app is configured), only that block.
 *
 * @example Usage
 * ```ts
 * import { ConfigError, formatConfigError } from "./errors.ts";
 * const text = formatConfigError(new ConfigError([{ key: "port", env: "WECOM_CALLBACK_PORT",
 *   from: "environment", message: "is not an integer.", fix: "Set it to 8645." }]));
 * console.assert(text.split("\n").length === 2);
 * ```
 */
export function formatConfigError(
  error: ConfigError,
  options: { startsInDemoMode?: boolean } = {},
): string {
  // Nothing to refuse when the caller goes on in demo mode: only what to set to leave it.
  if (options.startsInDemoMode && error.noApps) return noAppsGuide().slice(1).join("\n");
  const count = error.problems.length;
  const file = error.configPath ? ` (config file: ${error.configPath})` : "";
  const lines = [
    `Cannot start wecom-gateway: the configuration has ${count} problem${
      count === 1 ? "" : "s"
    }${file}. Bare keys live under platforms.wecom_callback.extra in config.yaml.`,
  ];
  for (const problem of error.problems) {
    if (error.noApps && problem.key === NO_APPS_KEY) continue; // shown as the block below
    lines.push(`  - ${subject(problem)}: ${problem.message} Fix: ${problem.fix}`);
  }
  if (error.noApps) lines.push(...noAppsGuide());
  return lines.join("\n");
}

/**
 * Renders a configuration warning (`GatewayConfig.warnings`: a setting that
 * works but should change) as one line naming the key and the fix.
 *
 * @example Usage
 * ```ts
 * import { formatConfigWarning } from "./errors.ts";
 * const line = formatConfigWarning({ key: "gateway.delivery.max_attempts", from: "config.yaml",
 *   message: "is deprecated and ignored.", fix: "Remove it." });
 * console.assert(line.startsWith("Warning: gateway.delivery.max_attempts"));
 * ```
 */
export function formatConfigWarning(problem: ConfigProblem): string {
  return `Warning: ${subject(problem)}: ${problem.message} Fix: ${problem.fix}`;
}

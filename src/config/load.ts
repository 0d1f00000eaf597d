/**
 * Loading the gateway's configuration: `config.yaml` (Hermes Agent layout,
 * `platforms.wecom_callback.extra`), `.env` in the working directory and the
 * environment, in this order of precedence (highest first):
 *
 * 1. the real environment
 * 2. `.env`
 * 3. `config.yaml` (`--config PATH`, else `WECOM_GATEWAY_CONFIG`, else `./config.yaml` if present)
 * 4. the defaults documented in `./types.ts`
 *
 * Every problem found is reported at once in one `ConfigError`. Nothing is
 * logged and `Deno.env` is never modified.
 *
 * @example Usage
 * ```ts
 * import { formatConfigError, ConfigError } from "./errors.ts";
 * import { loadConfig } from "./load.ts";
 * try {
 *   const config = await loadConfig({ args: Deno.args });
 *   console.log(`serving ${config.apps.length} app(s) on port ${config.port}`);
 * } catch (error) {
 *   if (!(error instanceof ConfigError)) throw error;
 *   console.error(formatConfigError(error));
 * }
 * ```
 *
 * @module
 */

import { findConfigPath } from "./config_path.ts";
import { readDotenv } from "./dotenv.ts";
import { ConfigError, type ConfigProblem } from "./errors.ts";
import type { GatewayConfig } from "./types.ts";
import { validateConfig } from "./validate.ts";
import { readYamlFile } from "./yaml_file.ts";

export { ConfigError, formatConfigError, formatConfigWarning } from "./errors.ts";
export type { ConfigProblem } from "./errors.ts";

/** Where to load from; everything defaults to the real process. */
export interface LoadConfigOptions {
  /** Command-line arguments; `--config PATH` / `--config=PATH` are looked for. */
  args?: string[];
  /** The environment (default `Deno.env.toObject()`); never modified. */
  env?: Record<string, string>;
  /** Working directory holding `.env` and the default `config.yaml` (default `Deno.cwd()`). */
  cwd?: string;
}

/**
 * Loads and validates the configuration.
 *
 * @throws {ConfigError} with every problem found (and `noApps` when no app is configured).
 *
 * @example Usage
 * ```ts
 * import { loadConfig } from "./load.ts";
 * const config = await loadConfig({
 *   cwd: await Deno.makeTempDir(),
 *   env: {
 *     WECOM_CALLBACK_CORP_ID: "ww0123456789abcdef",
 *     WECOM_CALLBACK_CORP_SECRET: "secret",
 *     WECOM_CALLBACK_AGENT_ID: "1000002",
 *     WECOM_CALLBACK_TOKEN: "token",
 *     WECOM_CALLBACK_ENCODING_AES_KEY: "a".repeat(43),
 *   },
 * });
 * console.assert(config.apps[0].name === "default" && config.path === "/wecom/callback");
 * ```
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<GatewayConfig> {
  const cwd = options.cwd ?? Deno.cwd();
  const env = options.env ?? Deno.env.toObject();
  const args = options.args ?? [];
  const fileProblems: ConfigProblem[] = [];

  const dotenv = await readDotenv(cwd);
  if (dotenv.problem) fileProblems.push(dotenv.problem);

  const envSource = env.WECOM_GATEWAY_CONFIG ? "environment" : ".env";
  const located = findConfigPath(args, { ...dotenv.values, ...env }, cwd, envSource);
  if ("problem" in located) throw new ConfigError([...fileProblems, located.problem]);

  const yaml = await readYamlFile(located.path, located.explicit, located.from);
  const configPath = yaml.found ? located.path : undefined;
  if (yaml.problem) {
    // Without the file's contents the other checks would only mislead.
    throw new ConfigError([...fileProblems, yaml.problem], { configPath });
  }

  const result = validateConfig({ env, dotenv: dotenv.values, root: yaml.root }, cwd);
  const problems = [...fileProblems, ...result.problems];
  if (problems.length > 0) {
    throw new ConfigError(problems, { noApps: result.noApps, configPath });
  }
  return result.config;
}

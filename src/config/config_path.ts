/**
 * Which config file to read: `--config PATH` (or `--config=PATH`) in the
 * arguments, else `WECOM_GATEWAY_CONFIG`, else `./config.yaml` in the working
 * directory when it exists.
 *
 * @example Usage
 * ```ts
 * import { findConfigPath } from "./config_path.ts";
 * const found = findConfigPath(["serve", "--config=/etc/gw.yaml"], {}, "/srv");
 * console.assert("path" in found && found.path === "/etc/gw.yaml" && found.explicit);
 * ```
 *
 * @module
 */

import { resolve } from "../path.ts";
import type { ConfigProblem, ConfigSource } from "./errors.ts";

/** The file to read, or a problem with the arguments. */
export type ConfigPathResult =
  | {
    /** Absolute path of the file. */
    path: string;
    /** True when named by `--config` or `WECOM_GATEWAY_CONFIG`: then it must exist. */
    explicit: boolean;
    /** Where the name came from (undefined for the default). */
    from?: ConfigSource;
  }
  | { problem: ConfigProblem };

/** Name of the default config file in the working directory. */
export const DEFAULT_CONFIG_FILE = "config.yaml";

/**
 * Finds the config file named by `args` or `env`, relative paths resolved against `cwd`.
 *
 * @example Usage
 * ```ts
 * import { findConfigPath } from "./config_path.ts";
 * const found = findConfigPath([], { WECOM_GATEWAY_CONFIG: "gw.yaml" }, "/srv");
 * console.assert("path" in found && found.path === "/srv/gw.yaml");
 * ```
 */
export function findConfigPath(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  cwd: string,
  envSource: ConfigSource = "environment",
): ConfigPathResult {
  let named: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") break;
    if (arg === "--config") {
      named = args[i + 1];
      if (named === undefined || named.startsWith("--")) {
        return {
          problem: {
            key: "--config",
            env: "WECOM_GATEWAY_CONFIG",
            from: "arguments",
            message: "is given without a file name.",
            fix: "Write --config PATH (or --config=PATH), e.g. --config ./config.yaml.",
          },
        };
      }
      i++;
    } else if (arg.startsWith("--config=")) {
      named = arg.slice("--config=".length);
    }
  }
  if (named !== undefined) {
    if (named.trim() === "") {
      return {
        problem: {
          key: "--config",
          env: "WECOM_GATEWAY_CONFIG",
          from: "arguments",
          message: "is given with an empty file name.",
          fix: "Write --config PATH with the path of your config.yaml.",
        },
      };
    }
    return { path: resolve(cwd, named), explicit: true, from: "arguments" };
  }
  const fromEnv = env.WECOM_GATEWAY_CONFIG;
  if (fromEnv !== undefined && fromEnv.trim() !== "") {
    return { path: resolve(cwd, fromEnv), explicit: true, from: envSource };
  }
  return { path: resolve(cwd, DEFAULT_CONFIG_FILE), explicit: false };
}

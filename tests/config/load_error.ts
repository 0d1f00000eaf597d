/**
 * Loading a configuration in the config tests, with one valid app in the
 * environment ({@linkcode ENV_APP}): a load that must be refused (the files are
 * written into a fresh directory, the real `loadConfig()` runs there, and the
 * `ConfigError` it throws is returned; a load that succeeds fails the test),
 * a load that must succeed, the pure `validateConfig()`, and the rendered line
 * of one problem.
 *
 * @example Usage
 * ```ts ignore
 * import { ENV_APP, loadError } from "./load_error.ts";
 * const error = await loadError({ "config.yaml": "gateway:\n  port: x\n" }, ENV_APP);
 * console.log(error.problems.length);
 * ```
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError, formatConfigError, loadConfig } from "../../src/config/load.ts";
import type { GatewayConfig } from "../../src/config/types.ts";
import { validateConfig } from "../../src/config/validate.ts";

/** One valid app in the environment, for tests about other settings. */
export const ENV_APP: Record<string, string> = {
  WECOM_CALLBACK_CORP_ID: "wwenvcorp",
  WECOM_CALLBACK_CORP_SECRET: "env-secret",
  WECOM_CALLBACK_AGENT_ID: "1000009",
  WECOM_CALLBACK_TOKEN: "EnvToken",
  WECOM_CALLBACK_ENCODING_AES_KEY: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq",
};

/**
 * Writes `files` (name → text) into a fresh directory, loads the configuration
 * there with `env` and `args`, and returns the `ConfigError` it throws; the
 * directory is removed afterwards.
 */
export async function loadError(
  files: Record<string, string>,
  env: Record<string, string> = {},
  args: string[] = [],
): Promise<ConfigError> {
  const dir = await Deno.makeTempDir({ prefix: "wecom_config_test_" });
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(join(dir, name), text);
    }
    await loadConfig({ cwd: dir, env, args });
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  throw new assert.AssertionError({ message: "expected loadConfig to throw a ConfigError" });
}

/** Loads `yaml` as config.yaml (none when absent) in a fresh directory with one app and `env`. */
export async function loaded(env: Record<string, string>, yaml?: string): Promise<GatewayConfig> {
  const dir = await Deno.makeTempDir({ prefix: "wecom_config_test_" });
  try {
    if (yaml) await Deno.writeTextFile(join(dir, "config.yaml"), yaml);
    return await loadConfig({ cwd: dir, env: { ...ENV_APP, ...env } });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `validateConfig()` of config.yaml's `root` with one app and `env` (no files read). */
export function validated(
  root: Record<string, unknown>,
  env: Record<string, string> = {},
): ReturnType<typeof validateConfig> {
  return validateConfig({ env: { ...ENV_APP, ...env }, dotenv: {}, root }, "/srv/gw");
}

/** The rendered line of the only problem about `key`; it must carry a fix. */
export function problemLine(error: ConfigError, key: string): string {
  const lines = formatConfigError(error).split("\n").filter((l) => l.startsWith(`  - ${key}`));
  assert.equal(lines.length, 1, `one line for ${key} in:\n${error.message}`);
  assert.match(lines[0], /Fix: \S/);
  return lines[0];
}

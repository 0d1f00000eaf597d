/**
 * Loading a configuration that must be refused: the files are written into a
 * fresh directory, the real `loadConfig()` runs there, and the `ConfigError`
 * it throws is returned (a load that succeeds fails the test).
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
import { ConfigError, loadConfig } from "../../src/config/load.ts";

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

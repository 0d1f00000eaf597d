/**
 * Validation of `agent.command.env`: which environment variables the command
 * agent's program gets besides the minimal base (see
 * `../agent/backends/command.ts`).
 *
 * Three shapes are accepted:
 *
 * - a list of names, passed on from the gateway's environment:
 *   `env: [HERMES_HOME, ANTHROPIC_API_KEY]`;
 * - a mapping of names to values, set for the program: `env: {LANG: zh_CN.UTF-8}`;
 *   a name without a value (`HERMES_HOME:` or `HERMES_HOME: null`) is passed
 *   on from the gateway's environment instead;
 * - the variable `WECOM_GATEWAY_COMMAND_ENV`: names separated by commas or spaces.
 *
 * Names must be valid variable names (letters, digits, `_`, not starting with
 * a digit).
 *
 * @example Usage
 * ```ts
 * import { createReader } from "./read.ts";
 * import { readCommandEnv } from "./validate_command_env.ts";
 * const read = createReader({
 *   env: {}, dotenv: {}, root: { agent: { command: { env: ["HERMES_HOME"] } } },
 * });
 * console.assert(readCommandEnv(read).passEnv[0] === "HERMES_HOME");
 * ```
 *
 * @module
 */

import { SETTINGS } from "./keys.ts";
import type { createReader } from "./read.ts";
import { isMapping } from "./yaml_file.ts";

type Reader = ReturnType<typeof createReader>;

/** The variables `agent.command.env` asks for. */
export interface CommandEnvSettings {
  /** Names passed on from the gateway's environment. */
  passEnv: string[];
  /** Names set to a configured value. */
  env: Record<string, string>;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Reads `agent.command.env` (or `WECOM_GATEWAY_COMMAND_ENV`); problems go to
 * the reader's list.
 *
 * @example Usage
 * ```ts
 * import { createReader } from "./read.ts";
 * import { readCommandEnv } from "./validate_command_env.ts";
 * const read = createReader({
 *   env: {}, dotenv: {}, root: { agent: { command: { env: { TZ: "Asia/Shanghai", HERMES_HOME: null } } } },
 * });
 * const settings = readCommandEnv(read);
 * console.assert(settings.env.TZ === "Asia/Shanghai" && settings.passEnv[0] === "HERMES_HOME");
 * ```
 */
export function readCommandEnv(read: Reader): CommandEnvSettings {
  const spec = SETTINGS.commandEnv;
  const found = read.raw(spec);
  const settings: CommandEnvSettings = { passEnv: [], env: {} };
  if (found === undefined) return settings;
  const bad = (names: string[]) => {
    if (names.length === 0) return false;
    read.report(
      spec,
      found,
      `names ${names.map((n) => JSON.stringify(n.slice(0, 40))).join(", ")}, ` +
        "which is not a valid environment variable name.",
      "Use names of letters, digits and _ that do not start with a digit, e.g. HERMES_HOME.",
    );
    return true;
  };
  if (isMapping(found.value)) {
    const entries = Object.entries(found.value);
    const wrong = entries.filter(([, value]) =>
      value !== null && typeof value !== "string" && typeof value !== "number" &&
      typeof value !== "boolean"
    );
    if (wrong.length > 0) {
      read.report(
        spec,
        found,
        `gives ${wrong.map(([name]) => name).join(", ")} a value that is not text.`,
        "Write each as 'NAME: value' (text), or 'NAME:' alone to pass on the gateway's own value.",
      );
      return settings;
    }
    if (bad(entries.map(([name]) => name).filter((name) => !NAME.test(name)))) return settings;
    for (const [name, value] of entries) {
      if (value === null) settings.passEnv.push(name);
      else settings.env[name] = String(value);
    }
    return settings;
  }
  const names = read.list(spec, /[\s,]+/);
  if (names === undefined) return settings;
  if (bad(names.filter((name) => !NAME.test(name)))) return settings;
  settings.passEnv = [...new Set(names)];
  return settings;
}

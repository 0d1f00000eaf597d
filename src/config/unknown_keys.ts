/**
 * Finds keys in config.yaml and variables in the environment that this gateway
 * does not know, and sections that are not mappings. Misspelt keys are the most
 * common cause of a setting silently not taking effect, so each report carries a
 * "did you mean" when a known key is close.
 *
 * Strict (every unknown key reported): `platforms.wecom_callback.extra`, its
 * `apps` entries, and our own sub-sections (`agent.openai`, `agent.command`,
 * `agent.http`, `gateway.jobs`, `gateway.delivery`, `gateway.http`). Lenient (reported only
 * when it looks like a typo of one of ours): `agent:`, `gateway:`,
 * `platforms.wecom_callback` and `WECOM_CALLBACK_*` / `WECOM_GATEWAY_*`
 * variables, because Hermes and other tools keep their own keys there.
 *
 * @example Usage
 * ```ts
 * import { checkNames } from "./unknown_keys.ts";
 * const problems = checkNames({
 *   env: {},
 *   dotenv: {},
 *   root: { platforms: { wecom_callback: { extra: { encoding_aes_kye: "x" } } } },
 * });
 * console.assert(problems[0].message.includes("encoding_aes_key"));
 * ```
 *
 * @module
 */

import type { ConfigProblem } from "./errors.ts";
import {
  AGENT_KEYS,
  APP_ENTRY_KEYS,
  ENV_PREFIXES,
  ENV_VARS,
  EXTRA_KEYS,
  EXTRA_PATH,
  GATEWAY_KEYS,
  KEY_ALIASES,
  SECTION_KEYS,
  SETTINGS,
} from "./keys.ts";
import type { Layers } from "./layers.ts";
import { normaliseKey, suggest } from "./suggest.ts";
import { isMapping } from "./yaml_file.ts";

/** Every key we know, by its bare name, to point a key to its right section. */
const HOMES: ReadonlyMap<string, string> = new Map(
  Object.values(SETTINGS).map((spec) => [normaliseKey(spec.yamlPath.at(-1)!), spec.key]),
);

function shown(key: string): string {
  return key.length > 40 ? `${key.slice(0, 40)}…` : key;
}

function unknownKey(
  key: string,
  known: readonly string[],
  display: (key: string) => string,
  app?: string,
): ConfigProblem {
  const close = suggest(key, known, KEY_ALIASES);
  const home = HOMES.get(normaliseKey(key));
  const where = close === undefined && home !== undefined && home !== key ? home : undefined;
  return {
    app,
    key: display(shown(key)),
    from: "config.yaml",
    message: close !== undefined
      ? `is not a known key, so it is ignored. Did you mean ${display(close)}?`
      : where !== undefined
      ? `is not a key of this section, so it is ignored; it belongs at ${where}.`
      : "is not a known key, so it is ignored.",
    fix: close !== undefined
      ? `Rename it to ${close}.`
      : where !== undefined
      ? `Move it to ${where} (see config.example.yaml).`
      : `Remove it, or correct it to one of: ${known.join(", ")}.`,
  };
}

function notMapping(key: string): ConfigProblem {
  return {
    key,
    from: "config.yaml",
    message: "is not a mapping of keys.",
    fix: "Write its settings as indented 'key: value' lines below it (see config.example.yaml).",
  };
}

function checkSection(
  problems: ConfigProblem[],
  node: unknown,
  path: string,
  known: readonly string[],
  strict: boolean,
): Record<string, unknown> | undefined {
  if (node === undefined || node === null) return undefined;
  if (!isMapping(node)) {
    problems.push(notMapping(path));
    return undefined;
  }
  const bare = path === EXTRA_PATH.join(".");
  for (const key of Object.keys(node)) {
    if (known.includes(key)) continue;
    if (!strict && suggest(key, known, KEY_ALIASES) === undefined) continue;
    problems.push(unknownKey(key, known, (k) => bare ? k : `${path}.${k}`));
  }
  return node;
}

function checkYaml(root: Readonly<Record<string, unknown>>, problems: ConfigProblem[]): void {
  const platforms = checkSection(
    problems,
    root.platforms,
    "platforms",
    [],
    false,
  );
  const callback = checkSection(
    problems,
    platforms?.wecom_callback,
    "platforms.wecom_callback",
    ["enabled", "extra"],
    false,
  );
  const extra = checkSection(
    problems,
    callback?.extra,
    EXTRA_PATH.join("."),
    EXTRA_KEYS,
    true,
  );
  if (Array.isArray(extra?.apps)) {
    extra.apps.forEach((entry: unknown, index) => {
      if (!isMapping(entry)) return; // reported with the apps
      const app = typeof entry.name === "string" && entry.name.trim() !== ""
        ? entry.name
        : `apps[${index}]`;
      for (const key of Object.keys(entry)) {
        if (APP_ENTRY_KEYS.includes(key)) continue;
        const problem = unknownKey(key, APP_ENTRY_KEYS, (k) => k, app);
        if (EXTRA_KEYS.includes(key)) {
          problem.message = "is not a per-app key, so it is ignored here.";
          problem.fix = `Set ${key} once, directly under platforms.wecom_callback.extra.`;
        }
        problems.push(problem);
      }
    });
  }

  const agent = checkSection(problems, root.agent, "agent", AGENT_KEYS, false);
  for (const name of ["openai", "command", "http", "hermes"]) {
    const path = `agent.${name}`;
    checkSection(problems, agent?.[name], path, SECTION_KEYS[path], true);
  }
  const gateway = checkSection(
    problems,
    root.gateway,
    "gateway",
    GATEWAY_KEYS,
    false,
  );
  for (const name of ["jobs", "delivery", "media", "operator", "http"]) {
    const path = `gateway.${name}`;
    const node = checkSection(problems, gateway?.[name], path, SECTION_KEYS[path], true);
    if (name === "media") {
      const sub = "gateway.media.transcription";
      checkSection(problems, node?.transcription, sub, SECTION_KEYS[sub], true);
    }
  }
  const nested = isMapping(gateway?.platforms) ? gateway.platforms.wecom_callback : undefined;
  if (nested !== undefined && platforms?.wecom_callback === undefined) {
    problems.push({
      key: "gateway.platforms.wecom_callback",
      from: "config.yaml",
      message: "is not read: this gateway reads platforms.wecom_callback at the top level.",
      fix:
        "Move the wecom_callback section to platforms.wecom_callback (no indentation for platforms:).",
    });
  }
}

/** Known variables by their name without our prefix, e.g. `PORT` → `WECOM_CALLBACK_PORT`. */
function knownSuffixes(): Map<string, string> {
  const suffixes = new Map<string, string>();
  for (const name of ENV_VARS) {
    const prefix = ENV_PREFIXES.find((p) => name.startsWith(p));
    suffixes.set(prefix ? name.slice(prefix.length) : name, name);
  }
  return suffixes;
}

function checkEnv(layers: Layers, problems: ConfigProblem[]): void {
  const suffixes = knownSuffixes();
  const aliases: Record<string, string> = {};
  for (const [alias, key] of Object.entries(KEY_ALIASES)) aliases[alias] = key.toUpperCase();
  const seen = new Set<string>();
  for (const [source, vars] of [["environment", layers.env], [".env", layers.dotenv]] as const) {
    for (const name of Object.keys(vars)) {
      if (seen.has(name) || ENV_VARS.includes(name)) continue;
      seen.add(name);
      const prefix = ENV_PREFIXES.find((p) => name.startsWith(p));
      if (!prefix) continue;
      const close = suggest(name.slice(prefix.length), [...suffixes.keys()], aliases);
      if (close === undefined) continue;
      const meant = suffixes.get(close)!;
      problems.push({
        key: name,
        from: source,
        message: `is not a variable wecom-gateway reads, so it is ignored. Did you mean ${meant}?`,
        fix: `Rename it to ${meant}.`,
      });
    }
  }
}

/**
 * Reports unknown or misplaced keys in config.yaml, sections that are not
 * mappings, and misspelt `WECOM_CALLBACK_*` / `WECOM_GATEWAY_*` variables.
 *
 * @example Usage
 * ```ts
 * import { checkNames } from "./unknown_keys.ts";
 * const problems = checkNames({ env: { WECOM_CALLBACK_AES_KEY: "x" }, dotenv: {}, root: {} });
 * console.assert(problems[0].message.includes("WECOM_CALLBACK_ENCODING_AES_KEY"));
 * ```
 */
export function checkNames(layers: Layers): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  checkYaml(layers.root, problems);
  checkEnv(layers, problems);
  return problems;
}

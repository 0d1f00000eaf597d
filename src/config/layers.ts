/**
 * The three layers a setting can come from, in order of precedence: the real
 * environment, then `.env`, then `config.yaml` (defaults are applied by the
 * validation). This module maps environment variables onto config keys and
 * gathers the raw, still unchecked, WeCom apps.
 *
 * Empty variables count as unset, so `WECOM_CALLBACK_PORT=` in a compose file
 * does not hide the value in config.yaml.
 *
 * @example Usage
 * ```ts
 * import { lookup } from "./layers.ts";
 * import { SETTINGS } from "./keys.ts";
 * const layers = {
 *   env: { WECOM_CALLBACK_PORT: "9000" },
 *   dotenv: { WECOM_CALLBACK_PORT: "8000" },
 *   root: { platforms: { wecom_callback: { extra: { port: 7000 } } } },
 * };
 * console.assert(lookup(layers, SETTINGS.port)?.value === "9000");
 * ```
 *
 * @module
 */

import type { ConfigProblem } from "./errors.ts";
import { APP_FIELDS, type AppFieldKey, EXTRA_PATH, type SettingSpec } from "./keys.ts";
import { isMapping } from "./yaml_file.ts";

/** Where a raw value came from. */
export type Origin = "environment" | ".env" | "config.yaml";

/** A value as found, before any checking. */
export interface RawValue {
  value: unknown;
  from: Origin;
}

/** Everything the configuration is made of. */
export interface Layers {
  /** The real environment (wins). */
  env: Readonly<Record<string, string>>;
  /** Variables from `.env`. */
  dotenv: Readonly<Record<string, string>>;
  /** The root mapping of config.yaml (empty when there is none). */
  root: Readonly<Record<string, unknown>>;
}

/** One app as found: its fields may be missing or malformed. */
export interface RawApp {
  /** How messages name the app: its name, or `apps[i]` when it has no usable name. */
  label: string;
  name?: RawValue;
  fields: Partial<Record<AppFieldKey, RawValue>>;
  apiBase?: RawValue;
  /** True when the `WECOM_CALLBACK_*` variables configure this app. */
  viaEnv: boolean;
  /** True for the app the variables add next to an `apps` list (no flat keys apply). */
  envOnly?: boolean;
  /** Position in `extra.apps`, for entries of the list. */
  index?: number;
}

/** The value of variable `name`: environment first, then `.env`; empty means unset. */
export function fromEnv(layers: Layers, name: string): RawValue | undefined {
  const real = layers.env[name];
  if (real !== undefined && real !== "") return { value: real, from: "environment" };
  const file = layers.dotenv[name];
  if (file !== undefined && file !== "") return { value: file, from: ".env" };
  return undefined;
}

/** The value at `path` in `root`, or undefined when a step is missing or not a mapping. */
export function atPath(root: Readonly<Record<string, unknown>>, path: readonly string[]): unknown {
  let node: unknown = root;
  for (const step of path) {
    if (!isMapping(node)) return undefined;
    node = node[step];
  }
  return node;
}

function fromYaml(value: unknown): RawValue | undefined {
  return value === undefined || value === null ? undefined : { value, from: "config.yaml" };
}

/**
 * The raw value of one setting: environment, then `.env`, then config.yaml.
 *
 * @example Usage
 * ```ts
 * import { lookup } from "./layers.ts";
 * import { SETTINGS } from "./keys.ts";
 * const raw = lookup({ env: {}, dotenv: {}, root: { gateway: { kv: ":memory:" } } }, SETTINGS.kv);
 * console.assert(raw?.value === ":memory:" && raw.from === "config.yaml");
 * ```
 */
export function lookup(layers: Layers, spec: SettingSpec): RawValue | undefined {
  if (spec.env) {
    const value = fromEnv(layers, spec.env);
    if (value) return value;
  }
  return fromYaml(atPath(layers.root, spec.yamlPath));
}

/** The mapping under `platforms.wecom_callback.extra` (empty when absent or malformed). */
export function extraSection(layers: Layers): Record<string, unknown> {
  const extra = atPath(layers.root, EXTRA_PATH);
  return isMapping(extra) ? extra : {};
}

const FLAT_KEYS = APP_FIELDS.map((field) => field.key).join(", ");

/**
 * Gathers the apps from `extra.apps`, the flat keys of `extra` and the
 * `WECOM_CALLBACK_*` variables, reporting how the forms conflict.
 *
 * - An `apps` list wins over flat keys (as in Hermes); flat keys next to it are reported.
 * - Variables next to an `apps` list add one more app named "default".
 * - Without a list, variables override the flat keys of the single app.
 *
 * @example Usage
 * ```ts
 * import { collectApps } from "./layers.ts";
 * const { apps } = collectApps({ env: { WECOM_CALLBACK_CORP_ID: "ww1" }, dotenv: {}, root: {} });
 * console.assert(apps.length === 1 && apps[0].label === "default");
 * ```
 */
export function collectApps(layers: Layers): { apps: RawApp[]; problems: ConfigProblem[] } {
  const extra = extraSection(layers);
  const problems: ConfigProblem[] = [];
  const envFields: Partial<Record<AppFieldKey, RawValue>> = {};
  const flatFields: Partial<Record<AppFieldKey, RawValue>> = {};
  for (const field of APP_FIELDS) {
    const env = fromEnv(layers, field.env);
    if (env) envFields[field.key] = env;
    const flat = fromYaml(extra[field.key]);
    if (flat) flatFields[field.key] = flat;
  }
  const hasEnv = Object.keys(envFields).length > 0;
  const hasFlat = Object.keys(flatFields).length > 0;

  let list = extra.apps;
  if (list !== undefined && list !== null && !Array.isArray(list)) {
    problems.push({
      key: "apps",
      from: "config.yaml",
      message: "is not a list.",
      fix: "Write apps: as a YAML list, one '- name: …' entry per app (see config.example.yaml).",
    });
    list = undefined;
  }

  if (Array.isArray(list) && list.length > 0) {
    const apps: RawApp[] = [];
    list.forEach((entry: unknown, index) => {
      if (!isMapping(entry)) {
        problems.push({
          app: `apps[${index}]`,
          key: "apps",
          from: "config.yaml",
          message: `entry ${index + 1} is not a mapping of keys.`,
          fix: `Write each entry as '- name: …' followed by ${FLAT_KEYS} on indented lines.`,
        });
        return;
      }
      const fields: Partial<Record<AppFieldKey, RawValue>> = {};
      for (const field of APP_FIELDS) {
        const value = fromYaml(entry[field.key]);
        if (value) fields[field.key] = value;
      }
      const name = fromYaml(entry.name);
      apps.push({
        label: typeof name?.value === "string" && name.value.trim() !== ""
          ? name.value
          : `apps[${index}]`,
        name,
        fields,
        apiBase: fromYaml(entry.api_base),
        viaEnv: false,
        index,
      });
    });
    if (hasFlat) {
      problems.push({
        key: Object.keys(flatFields).join(", "),
        from: "config.yaml",
        message: `${
          Object.keys(flatFields).length === 1 ? "is" : "are"
        } set directly under extra next to an apps list, so the app credentials there would be ignored.`,
        fix: "Move them into an entry of apps (with its own name), or remove them.",
      });
    }
    if (hasEnv) {
      const clash = apps.find((app) => app.name?.value === "default");
      if (clash) {
        problems.push({
          app: "default",
          key: "name",
          env: Object.keys(envFields).map((key) => APP_FIELDS.find((f) => f.key === key)!.env)
            .join(", "),
          from: Object.values(envFields)[0]!.from,
          message:
            'is taken twice: the WECOM_CALLBACK_* variables add an app named "default", and the apps list already has one.',
          fix:
            'Rename the "default" entry in apps, or unset the WECOM_CALLBACK_* app variables (corp id, secret, agent id, token, AES key).',
        });
      } else {
        apps.push({
          label: "default",
          name: { value: "default", from: Object.values(envFields)[0]!.from },
          fields: envFields,
          viaEnv: true,
          envOnly: true,
        });
      }
    }
    return { apps, problems };
  }

  if (!hasEnv && !hasFlat) return { apps: [], problems };
  const name = fromYaml(extra.name);
  return {
    apps: [{
      label: typeof name?.value === "string" && name.value.trim() !== "" ? name.value : "default",
      name: name ?? { value: "default", from: "config.yaml" },
      fields: { ...flatFields, ...envFields },
      viaEnv: true,
    }],
    problems,
  };
}

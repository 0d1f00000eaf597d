/**
 * Typed reads of single settings. Each reader takes the setting's spec, looks
 * its raw value up in the layers, and either returns the checked value or
 * records a problem (naming the key, its variable and where the value came
 * from) and returns the default, so that validation goes on and every problem
 * is reported at once.
 *
 * Values are only quoted in messages for numbers, flags and choices; text,
 * URLs, commands and headers may hold secrets and are described instead.
 *
 * @example Usage
 * ```ts
 * import { createReader } from "./read.ts";
 * import { SETTINGS } from "./keys.ts";
 * const read = createReader({ env: { WECOM_CALLBACK_PORT: "x" }, dotenv: {}, root: {} });
 * console.assert(read.integer(SETTINGS.port, 8645, { min: 0, max: 65535 }) === 8645);
 * console.assert(read.problems[0].env === "WECOM_CALLBACK_PORT");
 * ```
 *
 * @module
 */

import type { ConfigProblem } from "./errors.ts";
import type { SettingSpec } from "./keys.ts";
import { type Layers, lookup, type RawValue } from "./layers.ts";
import { isMapping } from "./yaml_file.ts";

/** Bounds of a number. */
export interface Range {
  min?: number;
  max?: number;
  /** True when `min` itself is not allowed (e.g. "more than 0"). */
  exclusiveMin?: boolean;
}

/** Reads settings from layers, collecting problems in `problems`. */
export interface Reader {
  readonly layers: Layers;
  readonly problems: ConfigProblem[];
  /** The raw value of a setting, unchecked. */
  raw(spec: SettingSpec): RawValue | undefined;
  /** Records a problem with `spec`'s key and variable. */
  report(spec: SettingSpec, raw: RawValue | undefined, message: string, fix: string): void;
  /** A whole number from a YAML number or a digit string. */
  integer(spec: SettingSpec, fallback: number, range?: Range): number;
  /** A number (fractions allowed), e.g. seconds. */
  number(spec: SettingSpec, fallback: number, range?: Range): number;
  /** true/false, yes/no, on/off, 1/0. */
  boolean(spec: SettingSpec, fallback: boolean): boolean;
  /** Text (YAML numbers are taken as written). */
  text(spec: SettingSpec, fallback: string): string;
  /** One of `choices`, case-insensitively. */
  choice<T extends string>(spec: SettingSpec, fallback: T, choices: readonly T[]): T;
  /** An http(s) URL without trailing slashes, or `fallback` when unset. */
  url(spec: SettingSpec, fallback: string): string;
  /** A YAML list of text, or a string split on `separator`. */
  list(spec: SettingSpec, separator: RegExp): string[] | undefined;
  /** A mapping of text to text. */
  stringMap(spec: SettingSpec): Record<string, string>;
}

/** "port in config.yaml" or "WECOM_CALLBACK_PORT in .env": where the user changes the value. */
export function where(spec: SettingSpec, raw: RawValue | undefined): string {
  if (raw?.from === "environment") return `${spec.env} in the environment`;
  if (raw?.from === ".env") return `${spec.env} in .env`;
  const inFile = `${spec.key} in config.yaml`;
  return raw === undefined && spec.env ? `${inFile} (or ${spec.env})` : inFile;
}

/** A short quoted rendering of a non-secret value. */
export function show(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
  return JSON.stringify(text.length > 24 ? `${text.slice(0, 24)}…` : text);
}

function describeRange(range: Range, integer: boolean): string {
  const kind = integer ? "a whole number" : "a number";
  const { min, max, exclusiveMin } = range;
  if (min !== undefined && max !== undefined) return `${kind} from ${min} to ${max}`;
  if (min === 0 && exclusiveMin) return `${kind} greater than 0`;
  if (min === 1 && integer) return "a whole number of at least 1";
  if (min === 0) return `${kind} of 0 or more`;
  if (min !== undefined) return `${kind} ${exclusiveMin ? "greater than" : "of at least"} ${min}`;
  if (max !== undefined) return `${kind} of at most ${max}`;
  return kind;
}

function toNumber(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value === "string" && /^\s*[-+]?(\d+\.?\d*|\.\d+)\s*$/.test(value)) {
    return Number(value);
  }
  return undefined;
}

function inRange(value: number, range: Range): boolean {
  if (range.min !== undefined) {
    if (range.exclusiveMin ? value <= range.min : value < range.min) return false;
  }
  return range.max === undefined || value <= range.max;
}

const TRUE = ["true", "1", "yes", "on"];
const FALSE = ["false", "0", "no", "off"];

/**
 * Creates a reader over `layers`.
 *
 * @example Usage
 * ```ts
 * import { createReader } from "./read.ts";
 * import { SETTINGS } from "./keys.ts";
 * const read = createReader({ env: {}, dotenv: { WECOM_GATEWAY_MARKDOWN: "yes" }, root: {} });
 * console.assert(read.boolean(SETTINGS.markdown, false) === true);
 * ```
 */
export function createReader(layers: Layers): Reader {
  const problems: ConfigProblem[] = [];
  const raw = (spec: SettingSpec) => lookup(layers, spec);
  const report = (spec: SettingSpec, value: RawValue | undefined, message: string, fix: string) =>
    problems.push({ key: spec.key, env: spec.env, from: value?.from, message, fix });

  const numeric =
    (integer: boolean) => (spec: SettingSpec, fallback: number, range: Range = {}): number => {
      const found = raw(spec);
      if (found === undefined) return fallback;
      const value = toNumber(found.value);
      if (value === undefined || (integer && !Number.isInteger(value)) || !inRange(value, range)) {
        const expected = describeRange(range, integer);
        report(
          spec,
          found,
          `is ${show(found.value)}; it must be ${expected}.`,
          `Set ${where(spec, found)} to ${expected}, or remove it for the default (${fallback}).`,
        );
        return fallback;
      }
      return value;
    };

  return {
    layers,
    problems,
    raw,
    report,
    integer: numeric(true),
    number: numeric(false),
    boolean(spec, fallback) {
      const found = raw(spec);
      if (found === undefined) return fallback;
      if (typeof found.value === "boolean") return found.value;
      const word = String(found.value).trim().toLowerCase();
      if (TRUE.includes(word)) return true;
      if (FALSE.includes(word)) return false;
      report(
        spec,
        found,
        `is ${show(found.value)}; it must be true or false.`,
        `Set ${where(spec, found)} to true or false (also accepted: yes/no, 1/0, on/off).`,
      );
      return fallback;
    },
    text(spec, fallback) {
      const found = raw(spec);
      if (found === undefined) return fallback;
      if (typeof found.value === "string") return found.value;
      if (typeof found.value === "number") return String(found.value);
      report(
        spec,
        found,
        `is a ${Array.isArray(found.value) ? "list" : typeof found.value}; it must be text.`,
        `Set ${where(spec, found)} to a quoted string.`,
      );
      return fallback;
    },
    choice(spec, fallback, choices) {
      const found = raw(spec);
      if (found === undefined) return fallback;
      const word = String(found.value).trim().toLowerCase();
      const hit = choices.find((choice) => choice === word);
      if (hit) return hit;
      report(
        spec,
        found,
        `is ${show(found.value)}; it must be one of ${choices.join(", ")}.`,
        `Set ${where(spec, found)} to one of ${choices.join(", ")}.`,
      );
      return fallback;
    },
    url(spec, fallback) {
      const found = raw(spec);
      if (found === undefined) return fallback;
      const text = typeof found.value === "string" ? found.value.trim() : "";
      let ok = false;
      try {
        const parsed = new URL(text);
        ok = (parsed.protocol === "http:" || parsed.protocol === "https:") && parsed.host !== "";
      } catch {
        ok = false;
      }
      if (!ok) {
        report(
          spec,
          found,
          "is not an http:// or https:// URL.",
          `Set ${where(spec, found)} to a full URL such as https://host.example/path.`,
        );
        return fallback;
      }
      return text.replace(/\/+$/, "");
    },
    list(spec, separator) {
      const found = raw(spec);
      if (found === undefined) return undefined;
      const items = typeof found.value === "string"
        ? found.value.split(separator)
        : Array.isArray(found.value) &&
            found.value.every((item) => typeof item === "string" || typeof item === "number")
        ? found.value.map(String)
        : undefined;
      if (items === undefined) {
        report(
          spec,
          found,
          "is neither a list nor a string.",
          `Set ${where(spec, found)} to a YAML list of strings (or one string).`,
        );
        return undefined;
      }
      return items.map((item) => item.trim()).filter((item) => item !== "");
    },
    stringMap(spec) {
      const found = raw(spec);
      if (found === undefined) return {};
      const map = found.value;
      if (
        !isMapping(map) ||
        !Object.values(map).every((v) => typeof v === "string" || typeof v === "number")
      ) {
        report(
          spec,
          found,
          "is not a mapping of names to text.",
          `Write ${spec.key} as indented 'Name: value' lines.`,
        );
        return {};
      }
      return Object.fromEntries(Object.entries(map).map(([k, v]) => [k, String(v)]));
    },
  };
}

/**
 * Reading and parsing `config.yaml`: by {@linkcode parseYamlSubset} (this project's reader of
 * the YAML that configs use) when the file lies in its subset, otherwise by `npm:yaml`, which
 * also words every error.
 *
 * @example Usage
 * ```ts
 * import { readYamlFile } from "./yaml_file.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/config.yaml`, "gateway:\n  kv: ':memory:'\n");
 * const read = await readYamlFile(`${dir}/config.yaml`, true);
 * console.assert(read.found && read.problem === undefined);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import type { ConfigProblem, ConfigSource } from "./errors.ts";
import { parseYamlSubset } from "./yaml_subset.ts";

/**
 * The full YAML parser, loaded only for a file outside the subset (or invalid): it is an
 * `npm:` package, and importing one costs the process ~5 MiB of resident memory for good (the
 * Node compatibility layer), which a gateway configured by environment variables or by a
 * config.yaml in the subset never needs.
 */
type YamlModule = typeof import("yaml");

/** The parsed root mapping (empty when there is no file) and any problem. */
export interface YamlFileResult {
  root: Record<string, unknown>;
  /** True when the file exists and was read. */
  found: boolean;
  problem?: ConfigProblem;
}

/** True for a plain YAML mapping (not a list, not a scalar). */
export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The line (1-based) before `beforeLine` where an unclosed quote or flow
 * collection begins: the parser only notices it where the file (or the
 * collection) ends, which is not the line to correct.
 */
function openedAt(text: string, beforeLine: number, head: string): number | undefined {
  const quote = head.match(/Missing closing (["'])quote/)?.[1];
  const flow = /^Flow (map|sequence)/.exec(head)?.[1] ??
    (/Missing closing [}\]]/.test(head) ? (head.includes("}") ? "map" : "sequence") : undefined);
  if (!quote && !flow) return undefined;
  const lines = text.split(/\r?\n/).slice(0, beforeLine - 1);
  for (let index = lines.length - 1; index >= 0; index--) {
    const line = lines[index].replace(/\s#.*$/, "");
    const count = (char: string) => line.split(char).length - 1;
    if (quote && count(quote) % 2 === 1) return index + 1;
    if (flow === "map" && count("{") > count("}")) return index + 1;
    if (flow === "sequence" && count("[") > count("]")) return index + 1;
  }
  return undefined;
}

/** First line of a YAML error without the source excerpt (which may hold a secret). */
function describeYamlError(error: unknown, text: string, yaml: YamlModule): string {
  if (error instanceof yaml.YAMLParseError) {
    const head = error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
    const at = error.linePos?.[0];
    if (!at) return head;
    const opened = openedAt(text, at.line, head);
    return opened !== undefined
      ? `${head} (line ${opened}, left open until line ${at.line})`
      : `${head} (line ${at.line}, column ${at.col})`;
  }
  return (error as Error).message.split("\n")[0];
}

/** A file that was read but whose content cannot be used: `message` and `fix` name the problem. */
function contentProblem(message: string, fix: string): YamlFileResult {
  return {
    root: {},
    found: true,
    problem: { key: "config.yaml", from: "config.yaml", message, fix },
  };
}

/**
 * Reads the YAML file at `path`. A missing file is fine unless `explicit`
 * (named by `--config` or `WECOM_GATEWAY_CONFIG`).
 *
 * @example Usage
 * ```ts
 * import { readYamlFile } from "./yaml_file.ts";
 * const read = await readYamlFile("/nonexistent/config.yaml", false);
 * console.assert(!read.found && read.problem === undefined);
 * ```
 */
export async function readYamlFile(
  path: string,
  explicit: boolean,
  from: ConfigSource = "arguments",
): Promise<YamlFileResult> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound && !explicit) return { root: {}, found: false };
    const missing = error instanceof Deno.errors.NotFound;
    return {
      root: {},
      found: false,
      problem: {
        key: "--config",
        env: "WECOM_GATEWAY_CONFIG",
        from,
        message: missing
          ? `names ${path}, which does not exist.`
          : `names ${path}, which cannot be read: ${(error as Error).name}.`,
        fix: missing
          ? "Correct the path, or copy config.example.yaml to that place and edit it."
          : "Make the file readable (check that it is a file and its permissions).",
      },
    };
  }
  // The subset's value is the one npm:yaml would give; anything else goes to npm:yaml.
  const read = parseYamlSubset(text);
  let parsed = read?.value;
  if (read === undefined) {
    const yaml: YamlModule = await import("yaml");
    try {
      parsed = yaml.parse(text);
    } catch (error) {
      return contentProblem(
        `${path} is not valid YAML: ${describeYamlError(error, text, yaml)}.`,
        "Correct the YAML at that line (indent with spaces; quote values that contain ': ').",
      );
    }
  }
  if (parsed === null || parsed === undefined) return { root: {}, found: true };
  if (!isMapping(parsed)) {
    return contentProblem(
      `${path} does not hold a mapping of keys at its top level.`,
      "Start from config.example.yaml: the file must have keys such as platforms:, agent:, gateway:.",
    );
  }
  return { root: parsed, found: true };
}

/**
 * Block-style YAML for the benchmarks' config files, as users write them
 * (`config.example.yaml`), so that the gateway under test reads its config
 * the way theirs does: by the reader of `src/config/yaml_subset.ts`, without
 * loading `npm:yaml` (JSON is YAML too, but a nested flow collection is left
 * to `npm:yaml`, whose import alone costs the process ~5 MiB of RSS).
 *
 * Strings are written double-quoted as JSON writes them (JSON's escapes are
 * YAML's); keys that are not plain words are quoted the same way.
 *
 * @example Usage
 * ```ts
 * import { blockYaml } from "./yaml_text.ts";
 * const text = blockYaml({ agent: { kind: "echo" }, apps: [{ name: "a", agent_id: 1 }] });
 * console.assert(text === 'agent:\n  kind: "echo"\napps:\n  - name: "a"\n    agent_id: 1\n');
 * ```
 *
 * @module
 */

type Value = unknown;

function isScalar(value: Value): boolean {
  return value === null || typeof value !== "object" ||
    (Array.isArray(value) ? value.length === 0 : Object.keys(value as object).length === 0);
}

function scalar(value: Value): string {
  if (value === undefined) return "null"; // as JSON writes an undefined list item
  if (Array.isArray(value)) return "[]";
  if (value !== null && typeof value === "object") return "{}";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw new RangeError(`Cannot write ${value} as YAML: only finite numbers are written`);
  }
  return String(value);
}

/** Plain words that YAML's core schema reads as booleans or null, not as strings. */
const NOT_A_STRING = /^(?:true|True|TRUE|false|False|FALSE|null|Null|NULL)$/;

function key(name: string): string {
  const plain = /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name) && !NOT_A_STRING.test(name);
  return plain ? name : JSON.stringify(name);
}

/** The lines of `value` (a mapping or a list) at `indent` spaces. */
function lines(value: Value, indent: number): string[] {
  const pad = " ".repeat(indent);
  const out: string[] = [];
  if (Array.isArray(value)) {
    for (const item of value) {
      if (isScalar(item)) {
        out.push(`${pad}- ${scalar(item)}`);
        continue;
      }
      // The item's own lines, two deeper; its first line moves up onto the dash.
      const inner = lines(item, indent + 2);
      out.push(`${pad}- ${inner[0].trimStart()}`, ...inner.slice(1));
    }
    return out;
  }
  for (const [name, item] of Object.entries(value as Record<string, Value>)) {
    if (item === undefined) continue;
    if (isScalar(item)) out.push(`${pad}${key(name)}: ${scalar(item)}`);
    else out.push(`${pad}${key(name)}:`, ...lines(item, indent + 2));
  }
  return out;
}

/** `value` (a mapping) as block-style YAML text, one key per line. */
export function blockYaml(value: Record<string, unknown>): string {
  return lines(value, 0).join("\n") + "\n";
}

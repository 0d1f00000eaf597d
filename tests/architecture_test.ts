/**
 * The architecture rule: code flows one way. Each folder of `src/` (or root
 * file) may import only the units listed for it in {@linkcode ALLOWED}; a
 * stage never imports another stage, and nothing imports a layer above it.
 * Stages meet only where `gateway.ts` wires them. See docs/ARCHITECTURE.md.
 *
 * The test reads every `import … from "…"`, `export … from "…"`, side-effect
 * `import "…"` and `import("…")` with a relative specifier in `src/`,
 * `main.ts` and `deploy.ts`, and fails listing each import the table does not
 * allow.
 *
 * @module
 */

import assert from "node:assert/strict";
import { dirname, join, normalize, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** Layers, bottom to top. A unit is a folder of `src/` (`records`) or a root file (`log.ts`). */
const BASE = [
  "bytes.ts",
  "delay.ts",
  "log.ts",
  "guarded_fetch.ts",
  "path.ts",
  "priority_gate.ts",
  "text",
];
const LOWER = [...BASE, "config", "crypto", "store", "wecom", "records", "attachments"];
const STAGES = ["intake", "jobs", "agent", "media", "delivery"];

/**
 * What each unit may import besides itself, at a glance:
 *
 * | layer       | units                                           | may import                         |
 * | ----------- | ----------------------------------------------- | ---------------------------------- |
 * | base        | bytes.ts, delay.ts, log.ts, guarded_fetch.ts, path.ts, priority_gate.ts, text/ | nothing of src/ |
 * | config      | config/                                         | base                               |
 * | storage     | crypto/, store/                                 | base, config                       |
 * | wecom       | wecom/ (the WeCom API client)                   | base, config, crypto, store        |
 * | records     | records/ (records, their keys and queries)      | base … wecom                       |
 * | attachments | attachments/ (media kinds, the file store)      | base … records                     |
 * | stages      | intake/, jobs/, agent/, media/, delivery/       | base … attachments, no other stage |
 * | front       | http/                                           | base … attachments, intake         |
 * | wiring      | gateway.ts                                      | all of the above                   |
 * | surfaces    | operator/, cli/, simulator/, main.ts, deploy.ts | as listed in the table below       |
 */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  "bytes.ts": [],
  "delay.ts": [],
  "log.ts": [],
  "guarded_fetch.ts": [],
  "path.ts": [],
  "priority_gate.ts": [],
  "text": [],
  "config": BASE,
  "crypto": [...BASE, "config"],
  "store": [...BASE, "config"],
  "wecom": [...BASE, "config", "crypto", "store"],
  "records": [...BASE, "config", "crypto", "store", "wecom"],
  "attachments": [...BASE, "config", "crypto", "store", "wecom", "records"],
  "intake": LOWER,
  "jobs": LOWER,
  "agent": LOWER,
  "media": LOWER,
  "delivery": LOWER,
  "http": [...LOWER, "intake"],
  "gateway.ts": [...LOWER, ...STAGES, "http", "operator"],
  "operator": [...LOWER, ...STAGES, "http"],
  "simulator": [...LOWER, "gateway.ts"],
  "cli": [...LOWER, ...STAGES, "http", "gateway.ts", "simulator"],
  "main.ts": ["cli"],
  "deploy.ts": ["config", "gateway.ts"],
};

/** One import of one file, both as paths relative to the repository root. */
interface Import {
  from: string;
  to: string;
}

/** The unit a repository path belongs to: `src/records/job.ts` → `records`, `main.ts` → `main.ts`. */
function unitOf(path: string): string {
  const parts = path.split("/");
  if (parts[0] !== "src") return path;
  return parts[1];
}

/**
 * The imports `table` does not allow, as "from -> to (unit → unit)" lines,
 * plus one line per unit missing from the table.
 */
function checkImports(
  imports: readonly Import[],
  table: Readonly<Record<string, readonly string[]>> = ALLOWED,
): string[] {
  const problems: string[] = [];
  for (const { from, to } of imports) {
    const source = unitOf(from);
    const target = unitOf(to);
    if (source === target) continue;
    const allowed = table[source];
    if (allowed === undefined) {
      problems.push(`${from} -> ${to} ('${source}' is not in the table: add its layer to ALLOWED)`);
    } else if (!allowed.includes(target)) {
      problems.push(`${from} -> ${to} (${source} may not import ${target})`);
    }
  }
  return problems;
}

const IMPORT_PATTERNS = [
  /\b(?:import|export)\s[^"'`;]*?\bfrom\s*["'](\.{1,2}\/[^"']+)["']/g,
  /\bimport\s*["'](\.{1,2}\/[^"']+)["']/g,
  /\bimport\s*\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g,
];

/** The relative specifiers imported by `source`; comments (JSDoc examples) are skipped. */
function specifiersOf(source: string): string[] {
  const code = source
    .replace(/^\s*\/\*[\s\S]*?\*\//gm, "")
    .replace(/^\s*\/\/.*$/gm, "");
  const found: string[] = [];
  for (const pattern of IMPORT_PATTERNS) {
    for (const match of code.matchAll(pattern)) found.push(match[1]);
  }
  return found;
}

const ROOT = normalize(join(dirname(fileURLToPath(import.meta.url)), ".."));

async function sourceFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(join(ROOT, dir))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) files.push(...await sourceFiles(path));
    else if (entry.name.endsWith(".ts")) files.push(path);
  }
  return files;
}

async function repositoryImports(): Promise<Import[]> {
  const imports: Import[] = [];
  for (const file of [...await sourceFiles("src"), "main.ts", "deploy.ts"]) {
    const text = await Deno.readTextFile(join(ROOT, file));
    for (const specifier of specifiersOf(text)) {
      const target = relative(ROOT, join(ROOT, dirname(file), specifier)).split(sep).join(
        "/",
      );
      imports.push({ from: file, to: target });
    }
  }
  return imports;
}

Deno.test("architecture: src/ imports only what the layer table allows", async () => {
  const imports = await repositoryImports();
  assert.ok(imports.length > 300, `only ${imports.length} imports found: is the parser broken?`);
  const problems = checkImports(imports);
  assert.deepEqual(
    problems,
    [],
    "These imports go up a layer or sideways between stages. Move the shared piece down " +
      "(records/, store/, config/, text/) or have gateway.ts pass it in as a function:\n" +
      problems.join("\n"),
  );
});

Deno.test("architecture: every unit of src/ has a row in the table", async () => {
  const units = new Set((await sourceFiles("src")).map(unitOf));
  const missing = [...units].filter((unit) => ALLOWED[unit] === undefined);
  assert.deepEqual(missing, [], "Add these folders or files of src/ to ALLOWED.");
});

Deno.test("architecture checker: reports a sideways stage import, an upward import and an unknown unit", () => {
  const problems = checkImports([
    { from: "src/intake/record.ts", to: "src/records/job.ts" }, // down: allowed
    { from: "src/intake/record.ts", to: "src/intake/events.ts" }, // same folder: allowed
    { from: "src/gateway.ts", to: "src/jobs/runner.ts" }, // wiring: allowed
    { from: "src/delivery/prepare.ts", to: "src/intake/access.ts" }, // sideways between stages
    { from: "src/records/outbox.ts", to: "src/delivery/split.ts" }, // upward
    { from: "src/store/kv.ts", to: "src/gateway.ts" }, // upward to the wiring
    { from: "src/newthing/a.ts", to: "src/log.ts" }, // a unit without a row
  ]);
  assert.deepEqual(problems, [
    "src/delivery/prepare.ts -> src/intake/access.ts (delivery may not import intake)",
    "src/records/outbox.ts -> src/delivery/split.ts (records may not import delivery)",
    "src/store/kv.ts -> src/gateway.ts (store may not import gateway.ts)",
    "src/newthing/a.ts -> src/log.ts ('newthing' is not in the table: add its layer to ALLOWED)",
  ]);
});

Deno.test("architecture parser: finds static, re-export, side-effect and dynamic imports, not comments", () => {
  const source = [
    "/**",
    ' * import { example } from "../not/an/import.ts";',
    " */",
    'import { a } from "./a.ts";',
    'import type {\n  B,\n  C,\n} from "../b/c.ts";',
    'export { d } from "./d.ts";',
    'export * from "./e.ts";',
    'import "./f.ts";',
    'const g = await import("../g.ts");',
    '// import { h } from "./h.ts";',
    'import { yaml } from "yaml";',
  ].join("\n");
  assert.deepEqual(specifiersOf(source).sort(), [
    "../b/c.ts",
    "../g.ts",
    "./a.ts",
    "./d.ts",
    "./e.ts",
    "./f.ts",
  ]);
});

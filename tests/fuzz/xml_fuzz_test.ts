/**
 * Fuzzing the XML reader alone (src/intake/xml.ts) and the two parsers on top
 * of it (src/intake/parse.ts).
 *
 * 1. Random, truncated, mutated, deeply nested, wide and huge inputs: each
 *    call returns a value or throws `XmlError` (`CallbackFormatError` for the
 *    parsers), never any other exception, within a time bound per call. The
 *    inputs run in a child process that is killed after a deadline, so a
 *    hang fails the test (with the seed and the last category reached)
 *    instead of stalling it: a CPU-bound loop cannot be interrupted in process.
 * 2. Generated well-formed documents (CDATA, references, comments,
 *    attributes, repeated and nested names) read back exactly.
 *
 * Reproduce with the printed seed: `FUZZ_SEED=<seed> deno test --unstable-kv
 * -A tests/fuzz/xml_fuzz_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { CallbackFormatError, parseEnvelope, parseMessage } from "../../src/intake/parse.ts";
import { readXmlFields, XmlError } from "../../src/intake/xml.ts";
import * as gen from "./lib/generate.ts";
import { inputs } from "./lib/xml_inputs.ts";
import { measured } from "../lib/measured.ts";

/** No single call on an input of at most 1 MiB may take longer, ms. */
const CALL_LIMIT_MS = 250;
/** The child process is killed after this long, ms. */
const CHILD_DEADLINE_MS = 25_000;
const NAME = /^[A-Za-z_][A-Za-z0-9_.\-]*(#\d+)?$/;

/** What one run over the generated inputs found. */
interface XmlFuzzResult {
  cases: number;
  byCategory: Record<string, number>;
  values: number;
  xmlErrors: number;
  formatErrors: number;
  slowestMs: number;
  violations: string[];
}

function show(input: string): string {
  return JSON.stringify(input.slice(0, 100)) + (input.length > 100 ? `… (${input.length})` : "");
}

function checkFields(fields: unknown, input: string, violations: string[]): void {
  if (!(fields instanceof Map)) {
    violations.push(`not a Map for ${show(input)}`);
    return;
  }
  if (fields.size > 2000) violations.push(`${fields.size} fields for ${show(input)}`);
  for (const [key, value] of fields) {
    const segments = typeof key === "string" ? key.split(".") : [];
    if (segments.length === 0 || !segments.every((s: string) => s !== "") || !NAME.test(key)) {
      violations.push(`bad key ${JSON.stringify(String(key).slice(0, 60))} for ${show(input)}`);
    }
    if (typeof value !== "string") violations.push(`non-string value for ${show(input)}`);
  }
}

/** Runs every input through the reader and the parsers. */
export function runXmlFuzz(seed: number, onCategory?: (name: string) => void): XmlFuzzResult {
  const result: XmlFuzzResult = {
    cases: 0,
    byCategory: {},
    values: 0,
    xmlErrors: 0,
    formatErrors: 0,
    slowestMs: 0,
    violations: [],
  };
  let current = "";
  for (const [category, input] of inputs(seed)) {
    if (category !== current) {
      current = category;
      onCategory?.(category);
    }
    result.byCategory[category] = (result.byCategory[category] ?? 0) + 1;
    const calls: [string, (text: string) => unknown][] = [
      ["readXmlFields", readXmlFields],
      ["parseEnvelope", parseEnvelope],
      ["parseMessage", parseMessage],
    ];
    for (const [name, call] of calls) {
      result.cases++;
      const began = performance.now();
      let value: unknown;
      try {
        value = call(input);
        result.values++;
      } catch (error) {
        if (error instanceof XmlError) {
          result.xmlErrors++;
          if (!Number.isInteger(error.position) || error.position < 0) {
            result.violations.push(`${name}: bad position ${error.position} for ${show(input)}`);
          }
        } else if (error instanceof CallbackFormatError && name !== "readXmlFields") {
          result.formatErrors++;
        } else {
          result.violations.push(
            `${name} threw ${(error as Error)?.name}: ${(error as Error)?.message} for ${
              show(input)
            }`,
          );
        }
      }
      const ms = performance.now() - began;
      result.slowestMs = Math.max(result.slowestMs, ms);
      if (ms > CALL_LIMIT_MS) {
        result.violations.push(`${name} took ${ms.toFixed(0)} ms on [${category}] ${show(input)}`);
      }
      if (name === "readXmlFields" && value !== undefined) {
        checkFields(value, input, result.violations);
      }
    }
  }
  return result;
}

// Run as a child process by the test below: `deno run xml_fuzz_test.ts --child <seed>`.
if (import.meta.main && Deno.args[0] === "--child") {
  const seed = Number(Deno.args[1]);
  const result = runXmlFuzz(seed, (name) => console.error(`category ${name}`));
  console.log(JSON.stringify(result));
}

Deno.test("fuzz: random, truncated, nested and huge inputs give a value or XmlError, in time", async () => {
  const seed = gen.seedFromEnv();
  const seedText = `0x${seed.toString(16)}`;
  const began = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", new URL(import.meta.url).pathname, "--child", String(seed)],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_DEADLINE_MS);
  let output: Deno.CommandOutput;
  try {
    output = await child.output();
  } finally {
    clearTimeout(timer);
  }
  const stderr = new TextDecoder().decode(output.stderr).trim();
  const lastCategory = stderr.split("\n").filter((l) => l.startsWith("category ")).pop();
  assert.ok(
    output.success,
    `seed ${seedText}: the XML fuzz process ${
      output.signal === "SIGKILL"
        ? `hung (killed after ${CHILD_DEADLINE_MS} ms in ${lastCategory})`
        : `failed (code ${output.code})`
    }:\n${stderr.slice(-2000)}`,
  );
  const result = JSON.parse(new TextDecoder().decode(output.stdout)) as XmlFuzzResult;
  measured(
    `xml fuzz (seed ${seedText}): ${result.cases} calls on ${
      Object.values(result.byCategory).reduce((a, b) => a + b, 0)
    } inputs in ${((performance.now() - began) / 1000).toFixed(1)} s, slowest call ${
      result.slowestMs.toFixed(1)
    } ms; values ${result.values}, XmlError ${result.xmlErrors}, CallbackFormatError ${result.formatErrors}`,
  );
  assert.deepEqual(
    result.violations.slice(0, 20),
    [],
    `seed ${seedText}: ${result.violations.length} violation(s); reproduce with FUZZ_SEED=${seedText}\n` +
      result.violations.slice(0, 20).join("\n"),
  );
  const inputCount = Object.values(result.byCategory).reduce((a, b) => a + b, 0);
  assert.ok(inputCount >= 10_000, `only ${inputCount} inputs`);
  // Both outcomes occur: the inputs are not all rejected at the first character.
  assert.ok(result.values > 100 && result.xmlErrors > 1000 && result.formatErrors > 100);
});

Deno.test("fuzz: generated well-formed documents read back exactly", () => {
  const seed = gen.seedFromEnv();
  const rng = gen.createRng(seed).fork("round-trip");
  let fields = 0;
  for (let i = 0; i < 3000; i++) {
    const { xml, fields: expected } = gen.wellFormedDocument(rng);
    let actual: Map<string, string>;
    try {
      actual = readXmlFields(xml);
    } catch (error) {
      throw new Error(
        `seed 0x${seed.toString(16)}, document ${i}: ${(error as Error).message}\n${xml}`,
      );
    }
    assert.deepEqual(
      Object.fromEntries(actual),
      Object.fromEntries(expected),
      `seed 0x${seed.toString(16)}, document ${i}:\n${xml}`,
    );
    fields += expected.size;
  }
  assert.ok(fields > 10_000, `only ${fields} fields were generated`);
  assert.equal(readXmlFields("<xml><A>&#x1F600;&lt;</A></xml>").get("A"), "😀<");
});

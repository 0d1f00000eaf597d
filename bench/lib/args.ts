/**
 * Command-line flags of the benchmark scripts: `--name value` or
 * `--name=value`, and integers with a lower bound and an error that names the
 * script, the flag and the value.
 *
 * @example Usage
 * ```ts
 * import { flag, integerFlag } from "./args.ts";
 * const args = ["--rate", "2500", "--json=out.json"];
 * console.assert(flag(args, "json") === "out.json");
 * console.assert(integerFlag(args, "rate", 100, { script: "the load test" }) === 2500);
 * ```
 *
 * @module
 */

/** The value of `--name` in `args` ("" when nothing follows it), or undefined when it is absent. */
export function flag(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1] ?? "";
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return undefined;
}

/**
 * Parses `text` as an integer of at least `min` (default 1); throws a
 * `RangeError` naming `script` and the flag otherwise.
 */
export function parseInteger(
  name: string,
  text: string,
  options: { script: string; min?: number },
): number {
  const min = options.min ?? 1;
  const value = Number(text);
  if (text.trim() === "" || !Number.isInteger(value) || value < min) {
    throw new RangeError(
      `Cannot run ${options.script} as '--${name}' must be an integer of at least ${min}: ` +
        `current value is '${text}'`,
    );
  }
  return value;
}

/** The integer value of `--name` (at least `min`, default 1), or `fallback` when it is absent. */
export function integerFlag(
  args: readonly string[],
  name: string,
  fallback: number,
  options: { script: string; min?: number },
): number {
  return parseInteger(name, flag(args, name) ?? String(fallback), options);
}

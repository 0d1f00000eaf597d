/**
 * Figures a test measured along the way (fuzz case counts, recovery times),
 * printed only when asked: passing tests print nothing, so a line in the test
 * output always means something went wrong. Set `TEST_FIGURES=1` to see them:
 *
 * ```sh
 * TEST_FIGURES=1 deno task test tests/e2e/
 * ```
 *
 * @example Usage
 * ```ts
 * import { measured } from "./measured.ts";
 * measured("locked KV: 503 in 12 ms"); // printed with TEST_FIGURES=1 only
 * ```
 *
 * @module
 */

/** Prints `line` when the `TEST_FIGURES` environment variable is set (to anything but "0"). */
export function measured(line: string): void {
  let wanted = false;
  try {
    const value = Deno.env.get("TEST_FIGURES");
    wanted = value !== undefined && value !== "" && value !== "0";
  } catch {
    // no env permission: quiet
  }
  if (wanted) console.log(line);
}

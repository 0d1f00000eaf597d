/**
 * Reading `.env` from the working directory without touching `Deno.env`.
 *
 * @example Usage
 * ```ts
 * import { readDotenv } from "./dotenv.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/.env`, "WECOM_CALLBACK_PORT=9000\n");
 * const read = await readDotenv(dir);
 * console.assert(read.values.WECOM_CALLBACK_PORT === "9000");
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import { join } from "../path.ts";
import type { ConfigProblem } from "./errors.ts";
import { parseDotenv } from "./dotenv_parse.ts";

/** Variables read from `.env` (empty when there is none) and any problem reading it. */
export interface DotenvResult {
  values: Record<string, string>;
  /** Path of the file when it exists. */
  path?: string;
  problem?: ConfigProblem;
}

/**
 * Reads and parses `<cwd>/.env`. A missing file is fine; an unreadable one is a problem.
 *
 * @example Usage
 * ```ts
 * import { readDotenv } from "./dotenv.ts";
 * const read = await readDotenv(await Deno.makeTempDir());
 * console.assert(Object.keys(read.values).length === 0 && read.problem === undefined);
 * ```
 */
export async function readDotenv(cwd: string): Promise<DotenvResult> {
  const path = join(cwd, ".env");
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { values: {} };
    return {
      values: {},
      path,
      problem: {
        key: ".env",
        from: ".env",
        message: `cannot be read at ${path}: ${(error as Error).name}.`,
        fix: "Make it a readable file (check its permissions) or remove it.",
      },
    };
  }
  return { values: parseDotenv(text), path };
}

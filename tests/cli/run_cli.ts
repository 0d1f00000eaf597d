/**
 * Runs the real CLI as a subprocess (`deno run --unstable-kv -A main.ts …`)
 * with a given environment and working directory, as an operator would.
 *
 * The child gets only the variables given (plus what Deno needs to find its
 * cache), so nothing from the test runner's environment leaks into it.
 *
 * @example Usage
 * ```ts ignore
 * import { runCli } from "./run_cli.ts";
 * const { code, stdout } = await runCli(["check", "--help"]);
 * ```
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** What the process wrote and how it ended. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode runCli}. */
export interface RunCliOptions {
  /** The child's environment (only these, plus PATH and Deno's cache location). */
  env?: Record<string, string>;
  /** Working directory (default: the repository root). */
  cwd?: string;
}

const MAIN = fileURLToPath(new URL("../../main.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));

/** Where Deno keeps its cache for this test process, so a child with another HOME finds it. */
function denoDir(): string {
  const env = Deno.env.toObject();
  if (env.DENO_DIR) return env.DENO_DIR;
  const home = env.HOME ?? "";
  if (Deno.build.os === "darwin") return `${home}/Library/Caches/deno`;
  if (Deno.build.os === "windows") return `${env.LOCALAPPDATA}\\deno`;
  return `${env.XDG_CACHE_HOME || `${home}/.cache`}/deno`;
}

/** The `deno run … main.ts …args` command with the child's clean environment. */
function cliCommand(args: string[], options: RunCliOptions): Deno.Command {
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "",
    DENO_DIR: denoDir(),
    NO_COLOR: "1",
    // No operator listener for `serve`: its default port is fixed, and tests run side by side.
    WECOM_GATEWAY_OPERATOR_PORT: "0",
    ...options.env,
  };
  env.HOME ??= Deno.env.get("HOME") ?? "";
  return new Deno.Command(Deno.execPath(), {
    // --config: the working directory may be anywhere; the import map is the project's.
    args: ["run", "--quiet", "--unstable-kv", "-A", "--config", CONFIG, MAIN, ...args],
    cwd: options.cwd ?? ROOT,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/**
 * Runs `deno run --unstable-kv -A main.ts ...args`.
 *
 * @example Usage
 * ```ts ignore
 * import { runCli } from "./run_cli.ts";
 * const result = await runCli(["jobs", "stats"], { env: { WECOM_GATEWAY_KV: kvPath }, cwd: dir });
 * ```
 */
export async function runCli(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  const output = await cliCommand(args, options).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/**
 * Starts `deno run --unstable-kv -A main.ts ...args` like {@linkcode runCli}
 * and returns the running child (stdout and stderr piped; read or cancel both).
 *
 * @example Usage
 * ```ts ignore
 * import { readLines } from "../../src/cli/demo_interactive.ts";
 * import { spawnCli } from "./run_cli.ts";
 * const child = spawnCli(["serve"], { env: { LOG_FORMAT: "json" }, cwd: dir });
 * for await (const line of readLines(child.stdout)) console.log(line);
 * ```
 */
export function spawnCli(args: string[], options: RunCliOptions = {}): Deno.ChildProcess {
  return cliCommand(args, options).spawn();
}

/**
 * A temporary working directory holding `files` (e.g. `.env`, `config.yaml`);
 * remove it with `Deno.remove(dir, { recursive: true })`.
 *
 * @example Usage
 * ```ts ignore
 * const dir = await workdir({ ".env": "WECOM_GATEWAY_KV=./kv.sqlite3\n" });
 * ```
 */
export async function workdir(files: Record<string, string> = {}): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "wecom-cli-" });
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  return dir;
}

/** `.env` text from variables. */
export function dotenv(vars: Record<string, string>): string {
  return Object.entries(vars).map(([name, value]) => `${name}=${value}\n`).join("");
}

/**
 * How the user runs the gateway, so that the commands it prints can be typed
 * as they are: `deno task cli …` with deno on PATH, `npx --yes deno@2.9.6 task
 * cli …` when deno runs from npx's cache, or the compiled binary's own path.
 *
 * @example Usage
 * ```ts
 * import { cliCommand, taskCommand } from "./invocation.ts";
 * const npx = "/home/me/.npm/_npx/7a40be787520bede/node_modules/deno/deno";
 * console.assert(taskCommand("demo", npx, "2.9.6") === "npx --yes deno@2.9.6 task demo");
 * console.assert(cliCommand("/usr/local/bin/deno") === "deno task cli");
 * console.assert(cliCommand("/opt/gw/wecom-gateway") === "/opt/gw/wecom-gateway");
 * ```
 *
 * @module
 */

/** True when `execPath` is a deno that npx unpacked into its cache (`…/_npx/<hash>/…`). */
export function isNpxDeno(execPath: string = Deno.execPath()): boolean {
  return /[\\/]_npx[\\/]/.test(execPath) && isDeno(execPath);
}

/** True when `execPath` is deno itself rather than a compiled gateway. */
function isDeno(execPath: string = Deno.execPath()): boolean {
  return /(^|[\\/])deno(\.exe)?$/i.test(execPath);
}

/** `deno`, or the npx form that started this process. */
function denoCommand(
  execPath: string = Deno.execPath(),
  version: string = Deno.version.deno,
): string {
  return isNpxDeno(execPath) ? `npx --yes deno@${version}` : "deno";
}

/** The command line that runs deno task `name` the way this process was started. */
export function taskCommand(
  name: string,
  execPath: string = Deno.execPath(),
  version: string = Deno.version.deno,
): string {
  return `${denoCommand(execPath, version)} task ${name}`;
}

/**
 * The prefix of a CLI command (`<prefix> check --online`): the compiled binary's path, or the
 * `cli` task run the way this process was started.
 */
export function cliCommand(
  execPath: string = Deno.execPath(),
  version: string = Deno.version.deno,
): string {
  return isDeno(execPath) ? taskCommand("cli", execPath, version) : execPath;
}

/**
 * The command line: `serve` (the default), `check`, `simulate`, `jobs`,
 * `demo`, `install`; `--help` on each.
 *
 * @example Usage
 * ```ts ignore
 * import { main } from "./main.ts";
 * Deno.exit(await main(["check", "--config", "config.yaml"]));
 * ```
 *
 * @module
 */

import type { Command } from "./command.ts";
import { serveCommand } from "./serve.ts";
import { demoCommand } from "./demo.ts";
import { checkCommand } from "./check.ts";
import { simulateCommand } from "./simulate.ts";
import { jobsCommand } from "./jobs.ts";
import { installCommand } from "./install.ts";

/** Every command, in the order `--help` lists them. */
export const COMMANDS: Command[] = [
  serveCommand,
  checkCommand,
  simulateCommand,
  jobsCommand,
  demoCommand,
  installCommand,
];

/** The top-level `--help` text. */
export function usage(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return [
    "wecom-gateway: connects an AI agent to WeCom (企业微信) as a self-built app.",
    "",
    "Usage: wecom-gateway [command] [options]      (the command defaults to 'serve')",
    "",
    "Commands:",
    ...COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    "",
    "Run 'wecom-gateway <command> --help' for a command's options.",
  ].join("\n");
}

/** Runs the CLI with `args`; resolves to the process exit code. */
export async function main(args: string[]): Promise<number> {
  const [first, ...rest] = args;
  if (first === "--help" || first === "-h" || first === "help") {
    const named = COMMANDS.find((command) => command.name === rest[0]);
    console.log(named ? named.help : usage());
    return 0;
  }
  if (first === undefined || first.startsWith("-")) return await serveCommand.run(args);
  const command = COMMANDS.find((candidate) => candidate.name === first);
  if (!command) {
    console.error(`Unknown command '${first}'.\n\n${usage()}`);
    return 2;
  }
  return await command.run(rest);
}

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

/**
 * A command as `--help` lists it; its module is loaded only when it runs, so
 * `serve` does not load the simulator, the checks or the installer (less
 * memory for a running gateway: see docs/BENCHMARKS.md, idle RSS).
 */
export interface CommandEntry {
  name: string;
  /** One line for the command list (the loaded command's `summary`). */
  summary: string;
  load(): Promise<Command>;
}

/** Every command, in the order `--help` lists them. */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: "serve",
    summary: "run the gateway (the default command)",
    load: async () => (await import("./serve.ts")).serveCommand,
  },
  {
    name: "check",
    summary: "validate the configuration (--online: prove it works with WeCom)",
    load: async () => (await import("./check.ts")).checkCommand,
  },
  {
    name: "simulate",
    summary: "act as WeCom: send a message, or run the URL verification and diagnose it",
    load: async () => (await import("./simulate.ts")).simulateCommand,
  },
  {
    name: "jobs",
    summary: "list jobs and dead letters, retry, purge (safe while the gateway runs)",
    load: async () => (await import("./jobs.ts")).jobsCommand,
  },
  {
    name: "demo",
    summary: "a round trip on this machine with a simulated WeCom (no account needed)",
    load: async () => (await import("./demo.ts")).demoCommand,
  },
  {
    name: "install",
    summary: "write a systemd unit (Linux) or launchd agent (macOS) for the binary",
    load: async () => (await import("./install.ts")).installCommand,
  },
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
    console.log(named ? (await named.load()).help : usage());
    return 0;
  }
  if (first === undefined || first.startsWith("-")) {
    return await (await COMMANDS[0].load()).run(args);
  }
  const entry = COMMANDS.find((candidate) => candidate.name === first);
  if (!entry) {
    console.error(`Unknown command '${first}'.\n\n${usage()}`);
    return 2;
  }
  return await (await entry.load()).run(rest);
}

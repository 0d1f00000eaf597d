/**
 * `install`: writes the service file that runs the compiled gateway binary
 * at boot (or login) and restarts it on failure: a systemd unit on Linux (a
 * system unit, or a user unit with `--user`), a launchd agent on macOS. Like
 * Hermes Agent's `gateway install`. `--dry-run` prints the file instead.
 *
 * @example Usage
 * ```ts ignore
 * import { createInstallCommand } from "./install.ts";
 * await createInstallCommand().run(["--user", "--dry-run"]);
 * ```
 *
 * @module
 */

import { basename, dirname, join, resolve } from "../path.ts";
import { fileURLToPath } from "node:url";
import { ConfigError, loadConfig } from "../config/load.ts";
import { parseOptions, UsageError } from "./args.ts";
import { type Command, createCommand } from "./command.ts";
import type { CliContext } from "./context.ts";
import {
  launchdPlist,
  type ServiceSpec,
  STOP_TIMEOUT_SECONDS,
  systemdUnit,
} from "./service_files.ts";
import { isNpxDeno } from "./invocation.ts";

const HELP =
  `wecom-gateway install: run the gateway as a service (systemd on Linux, launchd on macOS).

Usage: wecom-gateway install [--binary PATH] [--config PATH] [--user] [--dry-run]

Options:
  --binary PATH   the compiled gateway (default: this program when it is the compiled binary;
                  build it with 'deno task compile' → dist/wecom-gateway)
  --config PATH   config.yaml for 'serve --config' (default: ./config.yaml when present, or
                  WECOM_GATEWAY_CONFIG)
  --user          Linux: a user unit in ~/.config/systemd/user instead of the system unit
                  /etc/systemd/system/wecom-gateway.service (which needs sudo)
  --dry-run       print the file instead of writing it

The service runs 'serve' in the current directory (where .env and ./data/ are), loads .env,
restarts on failure, and stops with SIGTERM, waiting ${STOP_TIMEOUT_SECONDS} s for the graceful shutdown.
macOS: a launchd agent in ~/Library/LaunchAgents, logging to ~/Library/Logs/wecom-gateway.log.
Afterwards it prints the commands that enable and start it.

Exit codes: 0 written (or printed), 1 it could not be written, 2 bad usage.`;

/** Name of the systemd unit. */
export const UNIT_NAME = "wecom-gateway.service";
/** Label of the launchd agent. */
export const LAUNCHD_LABEL = "local.wecom-gateway";

/**
 * Permissions the gateway needs when it runs from source, and the V8 heap
 * setting of `deno task start` (a young generation capped at 1 MiB per
 * semi-space: about 40 MiB less peak RSS under load, at 0.86–0.90× of the
 * saturated acknowledgement rate of V8's defaults; see docs/BENCHMARKS.md).
 */
const DENO_RUN_FLAGS = [
  "run",
  "--v8-flags=--max-semi-space-size=1",
  "--unstable-kv",
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-sys",
];

/** Dependencies of {@linkcode createInstallCommand} (tests). */
export interface InstallDeps {
  context?: CliContext;
  /** The running program (default `Deno.execPath()`). */
  execPath?: string;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** The program and arguments that start `serve`, and a note when it runs from source. */
async function serviceArgv(
  context: CliContext,
  binary: string | undefined,
  execPath: string,
): Promise<{ argv: string[]; note?: string }> {
  if (binary !== undefined) {
    const path = resolve(context.cwd, binary);
    if (!(await isFile(path))) {
      throw new UsageError(
        "install",
        `There is no file at ${path} for --binary: build the binary first ('deno task compile' ` +
          "writes dist/wecom-gateway) and give its path.",
      );
    }
    return { argv: [path] };
  }
  if (!/^deno(\.exe)?$/i.test(basename(execPath))) return { argv: [execPath] };
  if (isNpxDeno(execPath)) {
    // npx unpacks deno into its cache, which npm may clear at any time: the unit would break.
    throw new UsageError(
      "install",
      `Cannot install the service as this deno runs from npx's cache (${execPath}), which npm ` +
        "may clear: the service would stop starting. Put deno on PATH to stay " +
        `('npm install -g deno@${Deno.version.deno}', then 'deno task cli install'), or build ` +
        "the binary ('deno task compile') and pass --binary dist/wecom-gateway.",
    );
  }
  const main = fileURLToPath(new URL("../../main.ts", import.meta.url));
  return {
    argv: [execPath, ...DENO_RUN_FLAGS, main],
    note: "note: this runs the gateway from source with deno. For production, build the binary " +
      "('deno task compile') and run 'dist/wecom-gateway install' or pass --binary PATH.",
  };
}

/** Variables the service will not see because they are set only in this shell. */
function shellOnlyVariables(context: CliContext): string[] {
  return Object.keys(context.env).filter((name) =>
    /^(WECOM_|OPENAI_|LOG_FORMAT$|LOG_LEVEL$|DENO_KV_ACCESS_TOKEN$|HTTPS?_PROXY$)/i.test(name)
  ).sort();
}

/**
 * Creates the `install` command.
 *
 * @example Usage
 * ```ts ignore
 * import { captureContext } from "./context.ts";
 * import { createInstallCommand } from "./install.ts";
 * const { context, stdout } = captureContext({ env: { HOME: "/tmp/home" }, os: "linux" });
 * await createInstallCommand({ context, execPath: "/opt/gw/wecom-gateway" }).run(["--user", "--dry-run"]);
 * ```
 */
export function createInstallCommand(deps: InstallDeps = {}): Command {
  return createCommand(
    {
      name: "install",
      summary: "write a systemd unit (Linux) or launchd agent (macOS) for the binary",
      help: HELP,
    },
    deps.context,
    (args, context) => install(args, context, deps.execPath ?? Deno.execPath()),
  );
}

async function install(args: string[], context: CliContext, execPath: string): Promise<number> {
  const { values } = parseOptions(args, {
    command: "install",
    strings: ["binary", "config"],
    booleans: ["user", "dry-run"],
  });
  const os = context.os;
  if (os !== "linux" && os !== "darwin") {
    throw new UsageError(
      "install",
      `'install' writes a systemd unit (Linux) or a launchd agent (macOS), not a ${os} service. ` +
        "Run 'wecom-gateway serve' under your system's service manager instead.",
    );
  }
  const home = context.env.HOME;
  if ((values.user || os === "darwin") && !home) {
    throw new UsageError("install", "HOME is not set: set it to your home directory.");
  }
  const dryRun = values["dry-run"] === true;
  const { argv, note } = await serviceArgv(
    context,
    values.binary as string | undefined,
    execPath,
  );

  // The config file, named explicitly so that the service does not depend on lookups.
  const named = (values.config as string | undefined) ?? context.env.WECOM_GATEWAY_CONFIG;
  let configPath: string | undefined;
  if (named !== undefined) {
    configPath = resolve(context.cwd, named);
    if (!(await isFile(configPath))) {
      throw new UsageError(
        "install",
        `There is no config file at ${configPath}: give the path of your config.yaml with ` +
          "--config PATH (or leave it out to use .env and the environment only).",
      );
    }
  } else if (await isFile(join(context.cwd, "config.yaml"))) {
    configPath = join(context.cwd, "config.yaml");
  }
  argv.push("serve", ...(configPath ? ["--config", configPath] : []));

  const envFile = join(context.cwd, ".env");
  const spec: ServiceSpec = {
    argv,
    workingDirectory: context.cwd,
    environmentFile: await isFile(envFile) ? envFile : undefined,
  };
  const warnings: string[] = [];
  if (note) warnings.push(note);

  // What the service will see: the config file and .env, not this shell's variables.
  try {
    await loadConfig({
      args: configPath ? ["--config", configPath] : [],
      env: {},
      cwd: context.cwd,
    });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const shell = shellOnlyVariables(context);
    warnings.push(
      `warning: the service would not start yet: its configuration (${
        configPath ?? "no config file"
      }${spec.environmentFile ? " and .env" : ", no .env"}) has ${error.problems.length} ` +
        "problem(s); run 'wecom-gateway check' to see them." +
        (shell.length > 0
          ? ` Variables set only in this shell are not seen by the service: ${
            shell.join(", ")
          }. Put them in ${envFile}.`
          : ""),
    );
  }

  let path: string;
  let content: string;
  let next: string[];
  if (os === "darwin") {
    path = join(home!, "Library", "LaunchAgents", `${LAUNCHD_LABEL}.plist`);
    const logPath = join(home!, "Library", "Logs", "wecom-gateway.log");
    content = launchdPlist(spec, { label: LAUNCHD_LABEL, logPath });
    next = [
      `launchctl load -w ${path}`,
      `tail -f ${logPath}`,
      `(to stop: launchctl unload -w ${path})`,
    ];
  } else if (values.user) {
    const configHome = context.env.XDG_CONFIG_HOME || join(home!, ".config");
    path = join(configHome, "systemd", "user", UNIT_NAME);
    content = systemdUnit(spec, { userUnit: true });
    next = [
      "systemctl --user daemon-reload",
      "systemctl --user enable --now wecom-gateway",
      "journalctl --user -u wecom-gateway -f",
      `loginctl enable-linger ${
        context.env.USER ?? "$USER"
      }   (keeps it running after you log out)`,
    ];
  } else {
    path = join("/etc/systemd/system", UNIT_NAME);
    const user = context.env.SUDO_USER || context.env.USER;
    if (user && user !== "root") spec.user = user;
    else {
      warnings.push(
        "warning: the unit has no User= and would run the gateway as root; add User=<name> " +
          "(the owner of this directory) or use --user.",
      );
    }
    content = systemdUnit(spec, { userUnit: false });
    next = [
      "sudo systemctl daemon-reload",
      "sudo systemctl enable --now wecom-gateway",
      "journalctl -u wecom-gateway -f",
    ];
  }

  if (dryRun) {
    context.out(content);
    context.out(`(dry run: this would be written to ${path})`);
  } else {
    let existed = false;
    try {
      existed = await isFile(path);
      await Deno.mkdir(dirname(path), { recursive: true });
      await Deno.writeTextFile(path, content);
    } catch (error) {
      const denied = error instanceof Deno.errors.PermissionDenied ||
        error instanceof Deno.errors.NotCapable;
      context.err(
        `Cannot write ${path}: ${(error as Error).message}. ` +
          (denied
            ? "Run it with sudo, or use --user for a user unit, or --dry-run to print the file."
            : "Check that the directory exists and is writable, or use --dry-run to print it."),
      );
      return 1;
    }
    context.out(`${existed ? "Replaced" : "Wrote"} ${path}`);
  }
  for (const warning of warnings) context.err(warning);
  context.out(`\nNext:\n${next.map((line) => `  ${line}`).join("\n")}`);
  return 0;
}

/** The `install` command. */
export const installCommand: Command = createInstallCommand();

/**
 * A gateway running as a real subprocess (`main.ts serve`), for crash and
 * multi-process tests: started with an environment and a config file, ready
 * once `/health` answers, killed with SIGKILL (no cleanup at all, as in a
 * power cut or an OOM kill) or stopped with SIGTERM, and started again on the
 * same KV file.
 *
 * The child gets a clean environment (only `PATH`, `HOME`, `DENO_DIR`,
 * `TMPDIR` of ours, then `env`), runs in `cwd` (so no stray `.env` or
 * `config.yaml` is read) and listens on a port it picks itself (port 0): the
 * address is read from the line it prints at start.
 *
 * @example Usage
 * ```ts ignore
 * import { startGatewayProcess } from "./gateway_process.ts";
 * const gateway = await startGatewayProcess({ env, configPath, cwd: dir });
 * const status = await fetch(`${gateway.callbackUrl}?${sealed.query}`, { method: "POST", body });
 * await gateway.kill(); // SIGKILL
 * const again = await startGatewayProcess({ env, configPath, cwd: dir }); // same KV file
 * await again.stop(); // SIGTERM, graceful
 * ```
 *
 * @module
 */

import { readLines } from "../../../src/cli/demo_interactive.ts";
import { waitFor } from "../../lib/wait.ts";

/** The repository root (where main.ts and deno.json are). */
export const ROOT: string = new URL("../../../", import.meta.url).pathname;

/** What the gateway process runs as (`--role`). */
export type ProcessRole = "all" | "edge" | "worker";

/** Options of {@linkcode startGatewayProcess}. */
export interface GatewayProcessOptions {
  /** Environment of the gateway (WECOM_CALLBACK_*, WECOM_GATEWAY_*, LOG_LEVEL …). */
  env: Record<string, string>;
  /** config.yaml to pass as `--config`. */
  configPath?: string;
  /** Working directory of the child (a temporary directory of the test). */
  cwd: string;
  role?: ProcessRole;
  /** How long to wait for the gateway to be ready, ms (default 20 000). */
  readyTimeoutMs?: number;
  /** Name used in error messages (default "gateway"). */
  name?: string;
  /** Run under `ulimit -n` of this many open files (through bash; the pid stays the gateway's). */
  openFilesLimit?: number;
}

/** A running gateway subprocess. */
export interface GatewayProcess {
  readonly pid: number;
  readonly role: ProcessRole;
  /** `http://127.0.0.1:<port>` (absent for the worker role). */
  readonly baseUrl?: string;
  /** `<baseUrl>/wecom/callback` (absent for the worker role). */
  readonly callbackUrl?: string;
  /** Milliseconds from spawn to ready (`/health` answered). */
  readonly startMs: number;
  /** SIGKILL: the process dies at once, mid-anything. Resolves once it has exited. */
  kill(): Promise<Deno.CommandStatus>;
  /** SIGTERM: graceful stop; SIGKILL after `graceMs` (default 15 000) if it has not exited. */
  stop(graceMs?: number): Promise<Deno.CommandStatus>;
  /** Resolves when the process exits by itself or otherwise. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** The last lines the process wrote (stdout and stderr), for failure messages. */
  output(): string;
}

const KEEP_LINES = 200;

function childEnv(env: Record<string, string>): Record<string, string> {
  // No operator listener: its default port is fixed, and tests run side by side.
  const base: Record<string, string> = { NO_COLOR: "1", WECOM_GATEWAY_OPERATOR_PORT: "0" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "TMPDIR", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) base[name] = value;
  }
  return { ...base, ...env };
}

async function eachLine(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  for await (const line of readLines(stream)) onLine(line);
}

/**
 * Starts `main.ts serve` as a subprocess and resolves once it is ready: for
 * the roles with an HTTP server once `GET /health` answers `{"status":"ok"}`,
 * for the worker role once it printed that it runs. Rejects (after killing
 * the child) with its output when it exits or does not become ready in time.
 *
 * @example Usage
 * ```ts ignore
 * const gateway = await startGatewayProcess({ env, configPath, cwd: dir, role: "edge" });
 * console.log(gateway.callbackUrl, gateway.startMs);
 * ```
 */
export async function startGatewayProcess(
  options: GatewayProcessOptions,
): Promise<GatewayProcess> {
  const role = options.role ?? "all";
  const name = options.name ?? "gateway";
  const args = [
    "run",
    "--unstable-kv",
    "-A",
    "--quiet",
    "--config",
    `${ROOT}deno.json`,
    `${ROOT}main.ts`,
    "serve",
    "--role",
    role,
  ];
  if (options.configPath) args.push("--config", options.configPath);
  const began = performance.now();
  const limited = options.openFilesLimit !== undefined;
  const child = new Deno.Command(limited ? "bash" : Deno.execPath(), {
    args: limited
      ? ["-c", `ulimit -n ${options.openFilesLimit} && exec "$@"`, "bash", Deno.execPath(), ...args]
      : args,
    cwd: options.cwd,
    clearEnv: true,
    env: childEnv(options.env),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  const lines: string[] = [];
  const ready = Promise.withResolvers<string | undefined>();
  let running = false;
  const onLine = (line: string) => {
    lines.push(line);
    if (lines.length > KEEP_LINES) lines.shift();
    if (line.startsWith("wecom-gateway running")) running = true;
    const health = line.match(/health:\s+(http:\/\/[^\s]+)\/health/);
    if (health) ready.resolve(health[1]);
    else if (running && role === "worker") ready.resolve(undefined);
  };
  const readers = Promise.all([eachLine(child.stdout, onLine), eachLine(child.stderr, onLine)])
    .catch(() => {});
  const exited = child.status.then(async (status) => {
    await readers;
    return status;
  });
  const output = () => lines.join("\n");
  const kill = async (signal: Deno.Signal): Promise<Deno.CommandStatus> => {
    try {
      child.kill(signal);
    } catch {
      // already exited
    }
    return await exited;
  };

  const timeoutMs = options.readyTimeoutMs ?? 20_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const failure = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${name} was not ready within ${timeoutMs} ms`)),
      timeoutMs,
    );
    exited.then((status) =>
      reject(new Error(`${name} exited with code ${status.code} before it was ready`))
    );
  });
  failure.catch(() => {});
  let baseUrl: string | undefined;
  try {
    baseUrl = await Promise.race([ready.promise, failure]);
    if (baseUrl !== undefined) {
      // `failure` ends the wait first: not ready in time, or the process exited.
      await waitFor(
        () =>
          Promise.race([
            fetch(`${baseUrl}/health`).then(async (response) => {
              const body = await response.text();
              return response.ok && body.includes('"ok"');
            }).catch(() => false),
            failure,
          ]),
        `${name}'s /health`,
        timeoutMs + 1000,
        20,
      );
    }
  } catch (error) {
    await kill("SIGKILL");
    throw new Error(`${(error as Error).message}. Its output:\n${output()}`);
  } finally {
    clearTimeout(timer);
  }
  const startMs = performance.now() - began;

  return {
    pid: child.pid,
    role,
    baseUrl,
    callbackUrl: baseUrl === undefined ? undefined : `${baseUrl}/wecom/callback`,
    startMs,
    exited,
    output,
    kill: () => kill("SIGKILL"),
    async stop(graceMs = 15_000) {
      try {
        child.kill("SIGTERM");
      } catch {
        return await exited;
      }
      let stopTimer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => {
        stopTimer = setTimeout(() => resolve("late"), graceMs);
      });
      const outcome = await Promise.race([exited, late]);
      clearTimeout(stopTimer);
      if (outcome !== "late") return outcome;
      return await kill("SIGKILL");
    },
  };
}

/**
 * Servers under test as subprocesses: started, waited for, observed through
 * `/proc` (peak RSS, CPU time) and stopped, always.
 *
 * @example Usage
 * ```ts ignore
 * import { startServer } from "./server_process.ts";
 * const server = await startServer({
 *   name: "bare",
 *   args: ["run", "--allow-net", "--allow-env", "bench/lib/bare_server.ts"],
 *   ready: /listening (\d+)/,
 * });
 * console.log(server.port, await server.peakRssKiB());
 * await server.stop();
 * ```
 *
 * @module
 */

import { serverEnv } from "./report.ts";

/** A running server subprocess. */
export interface ServerProcess {
  name: string;
  pid: number;
  port: number;
  /** The gateway's operator listener (`/metrics`), when {@linkcode startGateway} started it. */
  operatorPort?: number;
  /** VmHWM of the process in KiB (peak resident set size), or NaN when unknown. */
  peakRssKiB(): Promise<number>;
  /** VmRSS of the process in KiB (resident set size now), or NaN when unknown. */
  rssKiB(): Promise<number>;
  /**
   * A KiB field of `/proc/<pid>/status` (e.g. `RssAnon`: private memory;
   * `RssFile`: mapped files, mostly the deno executable's pages), or NaN.
   */
  statusKiB(field: string): Promise<number>;
  /** User + system CPU seconds used by the process so far, or NaN when unknown. */
  cpuSeconds(): Promise<number>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. Idempotent. */
  stop(graceMs?: number): Promise<number>;
  /** The last lines the process wrote to stderr (for error messages). */
  stderrTail(): string;
}

/** What {@linkcode startServer} needs. */
export interface StartOptions {
  name: string;
  /** Arguments of `deno`. */
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  /** Matched against each stdout line; group 1 is the port. */
  ready: RegExp;
  /** How long to wait for `ready` (default 30 s). */
  timeoutMs?: number;
}

const live = new Set<ServerProcess>();

/**
 * On Ctrl-C (SIGINT): prints `notice` (if any), runs `cleanup` (its failures
 * ignored) and exits 130. Returns the function that removes the handler, for
 * the benchmark's own `finally`.
 */
export function exitOnInterrupt(cleanup: () => Promise<unknown>, notice?: string): () => void {
  const onSignal = () => {
    if (notice) console.error(notice);
    cleanup().catch(() => {}).finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  return () => Deno.removeSignalListener("SIGINT", onSignal);
}

/** Stops every server started here that is still running (for cleanup on errors). */
export async function stopAll(): Promise<void> {
  await Promise.allSettled([...live].map((server) => server.stop(2000)));
}

async function drain(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  const lines = stream.pipeThrough(new TextDecoderStream());
  let pending = "";
  try {
    for await (const chunk of lines) {
      pending += chunk;
      let newline;
      while ((newline = pending.indexOf("\n")) >= 0) {
        onLine(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
      }
    }
    if (pending) onLine(pending);
  } catch {
    // the process went away
  }
}

/**
 * Reads a file under `/proc` through `cat`: Deno lets only `--allow-all` read
 * `/proc` itself, and the load task runs with `--allow-run` instead.
 */
export async function readProc(path: string): Promise<string> {
  const { code, stdout } = await new Deno.Command("cat", {
    args: [path],
    stdout: "piped",
    stderr: "null",
  }).output();
  if (code !== 0) throw new Error(`Cannot read ${path}: cat exited with code ${code}`);
  return new TextDecoder().decode(stdout);
}

/** Reads `/proc/<pid>/status` field `name` in KiB. */
async function procStatusKiB(pid: number, name: string): Promise<number> {
  try {
    const text = await readProc(`/proc/${pid}/status`);
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text);
    return match ? Number(match[1]) : NaN;
  } catch {
    return NaN;
  }
}

/**
 * This machine in one line: CPUs and model, memory, Deno version, OS and
 * architecture (for the head of a benchmark report).
 */
export async function describeMachine(): Promise<string> {
  let model = "";
  try {
    model = /model name\s*:\s*(.*)/.exec(await readProc("/proc/cpuinfo"))?.[1] ?? "";
  } catch {
    // not Linux
  }
  const memGiB = Deno.systemMemoryInfo().total / 2 ** 30;
  return `${navigator.hardwareConcurrency} CPUs (${model}), ${memGiB.toFixed(0)} GiB RAM, ` +
    `deno ${Deno.version.deno}, ${Deno.build.os}/${Deno.build.arch}`;
}

/** Busy CPU seconds of the whole machine (all CPUs) from `/proc/stat`, or NaN. */
export async function machineCpuSeconds(): Promise<number> {
  try {
    const fields = (await readProc("/proc/stat")).split("\n")[0].trim().split(/\s+/).slice(1)
      .map(Number);
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
    const [user, nice, system, , , irq, softirq, steal] = fields;
    return (user + nice + system + irq + softirq + steal) / 100;
  } catch {
    return NaN;
  }
}

/** utime + stime of `/proc/<pid>/stat` in seconds (Linux clock ticks are 100 Hz). */
export async function procCpuSeconds(pid: number): Promise<number> {
  try {
    const text = await readProc(`/proc/${pid}/stat`);
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/**
 * CPU seconds (user + system) of each thread of process `pid`, summed by
 * thread name (pools name their threads alike: tokio-runtime-w, V8
 * DefaultWorke); the main thread is "main". Threads that ended are not counted.
 */
export async function threadCpuSeconds(pid: number): Promise<Map<string, number>> {
  const { stdout } = await new Deno.Command("sh", {
    args: ["-c", `for f in /proc/${pid}/task/*/stat; do cat "$f"; echo; done`],
    stdout: "piped",
    stderr: "null",
  }).output();
  const threads = new Map<string, number>();
  for (const line of new TextDecoder().decode(stdout).split("\n")) {
    const close = line.lastIndexOf(")");
    if (close < 0) continue;
    const tid = line.slice(0, line.indexOf(" "));
    const name = tid === String(pid) ? "main" : line.slice(line.indexOf("(") + 1, close);
    const fields = line.slice(close + 2).split(" ");
    const seconds = (Number(fields[11]) + Number(fields[12])) / 100;
    threads.set(name, (threads.get(name) ?? 0) + seconds);
  }
  return threads;
}

/**
 * Starts `deno <args>` and resolves once a stdout line matches `ready`.
 * Rejects (after killing the process) when it exits or times out first.
 */
export async function startServer(options: StartOptions): Promise<ServerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: options.args,
    env: options.env,
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const tail: string[] = [];
  const port = Promise.withResolvers<number>();
  // Keep draining both pipes for the life of the process: a full pipe would block the server.
  const stdoutDone = drain(child.stdout, (line) => {
    const match = options.ready.exec(line);
    if (match) port.resolve(Number(match[1]));
  });
  const stderrDone = drain(child.stderr, (line) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
  });
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  let stopping: Promise<number> | undefined;
  const server: ServerProcess = {
    name: options.name,
    pid: child.pid,
    port: 0,
    peakRssKiB: () => procStatusKiB(child.pid, "VmHWM"),
    rssKiB: () => procStatusKiB(child.pid, "VmRSS"),
    statusKiB: (field) => procStatusKiB(child.pid, field),
    cpuSeconds: () => procCpuSeconds(child.pid),
    stderrTail: () => tail.join("\n"),
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        if (!exited) {
          try {
            child.kill("SIGTERM");
          } catch {
            // already gone
          }
          const timer = setTimeout(() => {
            try {
              child.kill("SIGKILL");
            } catch {
              // already gone
            }
          }, graceMs);
          await status;
          clearTimeout(timer);
        }
        await Promise.all([stdoutDone, stderrDone]);
        live.delete(server);
        return (await status).code;
      })();
      return stopping;
    },
  };
  live.add(server);
  const timeoutMs = options.timeoutMs ?? 30_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    server.port = await Promise.race([
      port.promise,
      status.then((s) => {
        throw new Error(
          `Cannot benchmark '${options.name}' as it exited with code ${s.code} before listening:\n` +
            server.stderrTail(),
        );
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `Cannot benchmark '${options.name}' as it did not listen within ${timeoutMs} ms:\n` +
                  server.stderrTail(),
              ),
            ),
          timeoutMs,
        );
      }),
    ]);
  } catch (error) {
    await server.stop(1000);
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return server;
}

const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * The `--v8-flags` value of this repository's `deno task start` (deno.json),
 * or "" when it has none.
 */
export async function startTaskV8Flags(): Promise<string> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const start: string = config.tasks?.start ?? "";
  return /--v8-flags=(\S+)/.exec(start)?.[1] ?? "";
}

function v8FlagsArgs(flags: string): string[] {
  return flags ? [`--v8-flags=${flags}`] : [];
}

/** What {@linkcode startGateway} needs. */
export interface GatewayOptions {
  name: string;
  /** `all` (intake, runner, delivery) or `edge` (intake only). */
  role: "all" | "edge";
  /** The gateway's `config.yaml`. */
  configPath: string;
  /** Working directory (temp files go there). */
  cwd: string;
  /** Environment on top of the caller's (without its WECOM_* and LOG_*) and the loopback defaults. */
  env: Record<string, string>;
  /** Start through `./memory_gateway.ts`: a `Deno.memoryUsage()` line on stderr every second. */
  memoryProbe?: boolean;
  /**
   * `--v8-flags` of the gateway's deno; by default those of `deno task start`
   * ({@linkcode startTaskV8Flags}), so that benchmarks measure what runs in
   * production; "" for V8's defaults.
   */
  v8Flags?: string;
}

/**
 * Starts this repository's gateway (`main.ts serve`) on 127.0.0.1 and a free
 * port, every user allowed, with `options.env` on top.
 *
 * @example Usage
 * ```ts ignore
 * import { startGateway } from "./server_process.ts";
 * const server = await startGateway({
 *   name: "gateway", role: "edge", configPath: "config.yaml", cwd: dir,
 *   env: { WECOM_GATEWAY_KV: `${dir}/kv.sqlite3`, LOG_LEVEL: "warn" },
 * });
 * ```
 */
export async function startGateway(options: GatewayOptions): Promise<ServerProcess> {
  // A free port for the operator listener (/metrics), found by binding port 0 and letting go.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const operatorPort = probe.addr.port;
  probe.close();
  const server = await startServer({
    name: options.name,
    args: [
      "run",
      "--config",
      `${ROOT}deno.json`,
      "--unstable-kv",
      "-A",
      ...v8FlagsArgs(options.v8Flags ?? await startTaskV8Flags()),
      options.memoryProbe ? `${ROOT}bench/lib/memory_gateway.ts` : `${ROOT}main.ts`,
      "serve",
      "--role",
      options.role,
      "--config",
      options.configPath,
    ],
    env: serverEnv({
      WECOM_CALLBACK_HOST: "127.0.0.1",
      WECOM_CALLBACK_PORT: "0",
      WECOM_CALLBACK_ALLOW_ALL_USERS: "true",
      WECOM_GATEWAY_OPERATOR_PORT: String(operatorPort),
      ...options.env,
    }),
    cwd: options.cwd,
    ready: /health:\s+http:\/\/[^/]+:(\d+)\/health/,
  });
  server.operatorPort = operatorPort;
  return server;
}

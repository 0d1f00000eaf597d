/**
 * The command backend: runs a program once per message.
 *
 * The program (`agent.command.argv`, e.g. `["hermes", "chat", "-Q", "-q",
 * "{message}"]`) gets the message text on stdin, and in place of every
 * argument that is exactly `{message}` (for programs such as Hermes' CLI that
 * take the message as an argument; no shell is involved), and the context in
 * its environment:
 *
 * | variable | value |
 * |---|---|
 * | `WECOM_CONVERSATION` | `corp_id:user_id` |
 * | `WECOM_USER_ID`, `WECOM_CORP_ID`, `WECOM_AGENT_ID` | who wrote, through which app |
 * | `WECOM_APP` | the app's name in config.yaml |
 * | `WECOM_JOB_ID` | the job id |
 * | `WECOM_MSG_TYPE` | `text`, `image`, `voice`, `video`, `location`, `link`, `event`, or WeCom's own type |
 * | `WECOM_ATTACHMENTS` | the message's downloaded files as JSON `[{kind, path, filename, size, content_type, transcript?}]` (only when there are any) |
 *
 * Its environment is minimal: `PATH`, `HOME`, `USER`, `LANG`, `LC_ALL`,
 * `LC_CTYPE`, `TZ` and `TMPDIR` from the gateway's environment (on Windows
 * also `SystemRoot`, `ComSpec`, `PATHEXT`, `TEMP`, `TMP`, `USERPROFILE`), the
 * variables `agent.command.env` names (passed on, or set to a configured
 * value), then the context above. Nothing else of the gateway's environment
 * reaches it: not its WeCom secrets, `DENO_KV_ACCESS_TOKEN`, nor
 * `OPENAI_API_KEY`, unless `agent.command.env` names them. Its stdout,
 * trimmed, is the reply (`MEDIA:` lines become attachments). A stdout that is
 * one JSON object `{"reply": "…", "attachments": ["/path", {"path", "kind"}]}`
 * (no other keys) is read as structured output instead. A non-zero exit is
 * an error with the exit code and the last lines of stderr.
 *
 * The program runs in its own process group. When the run is aborted (timeout,
 * cancel, shutdown) the whole group gets SIGTERM, then SIGKILL after a grace
 * period, so children it started die with it and cannot keep the pipes open.
 *
 * @example Usage
 * ```ts ignore
 * import { commandBackend } from "./command.ts";
 * const reply = await commandBackend(request, config, AbortSignal.timeout(60_000));
 * ```
 *
 * @module
 */

import type { AgentConfig } from "../../config/types.ts";
import type { AgentReply, AgentRequest } from "../../records/agent.ts";
import { parseReply, parseStructuredReply } from "../reply.ts";
import { shorten } from "../../text/format.ts";

/** Time between SIGTERM and SIGKILL when a run is stopped, by default. */
export const DEFAULT_KILL_GRACE_MS = 2000;

/** Most stdout kept (the reply); the rest is read and dropped. */
const MAX_STDOUT_BYTES = 1024 * 1024;
/** Most stderr kept (its end), for the error message. */
const MAX_STDERR_BYTES = 8 * 1024;
/** Lines of stderr quoted in the error of a failed run. */
const STDERR_LINES = 5;

/** An argument exactly this is replaced by the message text. */
export const MESSAGE_PLACEHOLDER = "{message}";

/** Variables of the gateway's environment every agent program gets (when set). */
export const BASE_ENV: readonly string[] = [
  "PATH",
  "HOME",
  "USER",
  "LANG",
  "LC_ALL",
  "LC_CTYPE",
  "TZ",
  "TMPDIR",
  ...(Deno.build.os === "windows"
    ? ["SystemRoot", "ComSpec", "PATHEXT", "TEMP", "TMP", "USERPROFILE"]
    : []),
];

/** Options of {@linkcode commandBackend} beyond the backend contract. */
export interface CommandBackendOptions {
  /** Time between SIGTERM and SIGKILL when the run is stopped (default 2000 ms). */
  killGraceMs?: number;
}

/**
 * Returns the context variables the agent program receives.
 *
 * @example Usage
 * ```ts
 * import { commandEnv } from "./command.ts";
 * const env = commandEnv({
 *   jobId: "j1", conversation: "ww1:zhang", app: "default", corpId: "ww1", agentId: "1000002",
 *   userId: "zhang", text: "hi", history: [],
 *   message: { type: "text", content: "hi", corpId: "ww1", userId: "zhang", createTime: 1,
 *     agentId: "1000002", msgId: "1" },
 * });
 * console.assert(env.WECOM_MSG_TYPE === "text" && env.WECOM_CONVERSATION === "ww1:zhang");
 * ```
 */
export function commandEnv(request: AgentRequest): Record<string, string> {
  const message = request.message;
  const type = message?.type === "unknown" ? message.msgType : message?.type ?? "text";
  const env: Record<string, string> = {
    WECOM_CONVERSATION: request.conversation,
    WECOM_USER_ID: request.userId,
    WECOM_CORP_ID: request.corpId,
    WECOM_AGENT_ID: request.agentId,
    WECOM_APP: request.app,
    WECOM_JOB_ID: request.jobId,
    WECOM_MSG_TYPE: type,
  };
  if (request.attachments && request.attachments.length > 0) {
    env.WECOM_ATTACHMENTS = JSON.stringify(request.attachments.map((file) => ({
      kind: file.kind,
      path: file.path,
      filename: file.filename,
      size: file.size,
      content_type: file.contentType,
      ...(file.transcript !== undefined ? { transcript: file.transcript } : {}),
    })));
  }
  return env;
}

/**
 * Runs the configured program for one message and returns its stdout as the reply.
 *
 * @example Usage
 * ```ts ignore
 * import { commandBackend } from "./command.ts";
 * const config = { command: { argv: ["sh", "-c", "tr a-z A-Z"] } } as AgentConfig;
 * const reply = await commandBackend(request, config, AbortSignal.timeout(10_000));
 * ```
 */
export async function commandBackend(
  request: AgentRequest,
  config: AgentConfig,
  signal: AbortSignal,
  options: CommandBackendOptions = {},
): Promise<AgentReply> {
  const [program, ...args] = config.command?.argv ?? [];
  if (!program) {
    throw new Error("no agent command is configured: set agent.command.argv in config.yaml");
  }
  signal.throwIfAborted();
  const name = program.split("/").pop() ?? program;

  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args: args.map((arg) => arg === MESSAGE_PLACEHOLDER ? request.text ?? "" : arg),
      cwd: config.command.cwd || undefined,
      clearEnv: true,
      env: { ...programEnv(config.command), ...commandEnv(request) },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }).spawn();
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "not found"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new Error(
      `cannot start the agent command '${name}': ${reason}. Check agent.command.argv and cwd`,
    );
  }

  let stopped = false;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    stopped = true;
    signalGroup(child.pid, "SIGTERM");
    killTimer = setTimeout(
      () => signalGroup(child.pid, "SIGKILL"),
      options.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
    );
  };
  signal.addEventListener("abort", stop, { once: true });

  const stdout = collect(child.stdout, MAX_STDOUT_BYTES, "head");
  const stderr = collect(child.stderr, MAX_STDERR_BYTES, "tail");
  const stdin = writeAll(child.stdin, new TextEncoder().encode(request.text ?? ""));

  let status: Deno.CommandStatus;
  try {
    status = await child.status;
    // Children left behind in the group would hold stdout open: end them.
    if (stopped) signalGroup(child.pid, "SIGKILL");
  } finally {
    signal.removeEventListener("abort", stop);
    clearTimeout(killTimer);
  }
  const [out, err] = await Promise.all([stdout, stderr, stdin]);

  if (stopped) {
    throw signal.reason ?? new Error(`the agent command '${name}' was stopped`);
  }
  if (!status.success) {
    const how = status.signal
      ? `was killed by ${status.signal}`
      : `exited with code ${status.code}`;
    const tail = lastLines(err, STDERR_LINES);
    throw new Error(`the agent command '${name}' ${how}${tail ? `: ${tail}` : ""}`);
  }
  return parseStructuredReply(out) ?? parseReply(out);
}

/**
 * The program's environment before its context: {@linkcode BASE_ENV} and the
 * names in `passEnv` taken from the gateway's environment (when set and
 * readable), then the configured values of `env`.
 *
 * @example Usage
 * ```ts
 * import { programEnv } from "./command.ts";
 * const env = programEnv({ argv: ["hermes"], env: { HERMES_PROFILE: "wecom" } });
 * console.assert(env.HERMES_PROFILE === "wecom" && !("DENO_KV_ACCESS_TOKEN" in env));
 * ```
 */
export function programEnv(
  command: Pick<AgentConfig["command"], "passEnv" | "env">,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of [...BASE_ENV, ...(command.passEnv ?? [])]) {
    let value: string | undefined;
    try {
      value = Deno.env.get(name);
    } catch {
      value = undefined; // no permission to read it: the program goes without
    }
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...command.env };
}

function signalGroup(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
}

async function writeAll(stream: WritableStream<Uint8Array>, bytes: Uint8Array): Promise<void> {
  const writer = stream.getWriter();
  try {
    await writer.write(bytes);
    await writer.close();
  } catch {
    // the program exited or closed stdin without reading it all: not an error in itself
  }
}

/** Reads `stream` to its end, keeping at most `limit` bytes of its head or tail. */
async function collect(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  keep: "head" | "tail",
): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    if (keep === "head") {
      if (size >= limit) continue;
      const part = chunk.subarray(0, limit - size);
      chunks.push(part);
      size += part.length;
    } else {
      chunks.push(chunk);
      size += chunk.length;
      while (size - chunks[0].length >= limit) size -= chunks.shift()!.length;
    }
  }
  const all = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return new TextDecoder().decode(all);
}

function lastLines(text: string, count: number): string {
  const lines = text.split("\n").map((line) => line.trim()).filter(Boolean);
  return shorten(lines.slice(-count).join(" | "), 400);
}

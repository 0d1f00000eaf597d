/**
 * Structured logging: human lines by default, JSON lines with `LOG_FORMAT=json`.
 *
 * Callers pass a message and plain fields. Fields whose names look like
 * secrets or message bodies are replaced by `[redacted]` before anything is
 * written, so a careless call cannot leak them.
 *
 * The last warnings and errors (redacted the same way) are also kept in a
 * small in-memory ring for the operator console: {@linkcode recentProblems}.
 *
 * @example Usage
 * ```ts
 * import { log } from "./log.ts";
 * log.info("callback accepted", { app: "default", requestId: "r1" });
 * ```
 *
 * @module
 */

/** Severity of a log line. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Plain fields of a log line. */
export type LogFields = Record<string, unknown>;

/** Where lines go; tests replace it to capture output. */
export interface LogSink {
  format: "human" | "json";
  /** Lowest level written. */
  level: LogLevel;
  write(line: string, level: LogLevel): void;
}

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Field names whose values are never written. */
const SECRET_FIELD =
  /secret|token|aes|password|api_?key|authorization|content|body|text|plaintext|echostr|encrypt/i;

function defaultSink(): LogSink {
  let format: "human" | "json" = "human";
  let level: LogLevel = "info";
  try {
    if (Deno.env.get("LOG_FORMAT") === "json") format = "json";
    const wanted = Deno.env.get("LOG_LEVEL") as LogLevel | undefined;
    if (wanted && wanted in ORDER) level = wanted;
  } catch {
    // no env permission: defaults
  }
  return {
    format,
    level,
    write: (line, lineLevel) => {
      if (lineLevel === "error" || lineLevel === "warn") console.error(line);
      else console.log(line);
    },
  };
}

let sink: LogSink = defaultSink();

/** Replaces the sink (tests, `--log-format`); returns the previous one. */
export function setLogSink(next: LogSink): LogSink {
  const previous = sink;
  sink = next;
  return previous;
}

/**
 * Switches the current sink to `format` (the configuration's `gateway.log_format`, which may
 * come from config.yaml or `.env` rather than the process environment).
 */
export function setLogFormat(format: "human" | "json"): void {
  sink = { ...sink, format };
}

/** The current sink's format. */
export function logFormat(): "human" | "json" {
  return sink.format;
}

/** Returns a copy of `fields` with secret-looking fields replaced by "[redacted]". */
export function redact(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue; // an absent field is left out, never "job=undefined"
    if (SECRET_FIELD.test(name)) out[name] = "[redacted]";
    else if (value instanceof Error) out[name] = value.message;
    else out[name] = value;
  }
  return out;
}

function human(value: unknown): string {
  if (typeof value === "string") return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  if (value === undefined) return "undefined";
  return JSON.stringify(value);
}

/** One remembered warning or error, already redacted. */
export interface LogRecord {
  time: string;
  level: "warn" | "error";
  msg: string;
  fields: LogFields;
}

/** How many warnings and errors {@linkcode recentProblems} keeps. */
export const RECENT_PROBLEMS = 200;

const recent: LogRecord[] = [];

/**
 * The last warnings and errors of this process, oldest first (at most
 * {@linkcode RECENT_PROBLEMS}), whatever the sink's level; fields redacted as written.
 *
 * @example Usage
 * ```ts
 * import { log, recentProblems } from "./log.ts";
 * log.warn("disk almost full", { token: "s3cret" });
 * const last = recentProblems().at(-1)!;
 * console.assert(last.msg === "disk almost full" && last.fields.token === "[redacted]");
 * ```
 */
export function recentProblems(): LogRecord[] {
  return recent.slice();
}

/** Writes one line at `level`. */
export function write(level: LogLevel, message: string, fields: LogFields = {}): void {
  const remember = level === "warn" || level === "error";
  if (!remember && ORDER[level] < ORDER[sink.level]) return;
  const safe = redact(fields);
  const time = new Date().toISOString();
  if (remember) {
    recent.push({ time, level, msg: message, fields: safe });
    if (recent.length > RECENT_PROBLEMS) recent.splice(0, recent.length - RECENT_PROBLEMS);
    if (ORDER[level] < ORDER[sink.level]) return;
  }
  if (sink.format === "json") {
    sink.write(JSON.stringify({ time, level, msg: message, ...safe }), level);
  } else {
    const rest = Object.entries(safe).map(([k, v]) => `${k}=${human(v)}`).join(" ");
    sink.write(
      `${time} ${level.toUpperCase().padEnd(5)} ${message}${rest ? " " + rest : ""}`,
      level,
    );
  }
}

/** The logger used across the gateway. */
export const log = {
  debug: (message: string, fields?: LogFields) => write("debug", message, fields),
  info: (message: string, fields?: LogFields) => write("info", message, fields),
  warn: (message: string, fields?: LogFields) => write("warn", message, fields),
  error: (message: string, fields?: LogFields) => write("error", message, fields),
};

/**
 * What went wrong in a call to an agent server, and whether trying again can help.
 *
 * {@linkcode BackendFailure} is thrown by the OpenAI-compatible backends
 * (`./openai.ts`, `./hermes.ts`); `./retry.ts` retries the transient ones.
 * Its message is for the operator (job list, logs): it names the server and
 * the fix, never a secret. Members never see it (they get the apology of
 * `../apology.ts`).
 * {@linkcode httpFailure} turns an HTTP error status into one.
 *
 * @example Usage
 * ```ts
 * import { httpFailure } from "./failure.ts";
 * const failure = httpFailure(429, "slow down", { server: "the model API at 127.0.0.1:8642" });
 * console.assert(failure.transient && failure.status === 429);
 * ```
 *
 * @module
 */

/** Options of a {@linkcode BackendFailure}. */
export interface BackendFailureOptions {
  /** True when the same call may succeed later (connection refused, 429, 5xx). */
  transient: boolean;
  /** The HTTP status, when the server answered. */
  status?: number;
  /** The server asked to wait this long (`Retry-After`), ms. */
  retryAfterMs?: number;
}

/** A failed call to an agent server. */
export class BackendFailure extends Error {
  /** True when trying again later may help. */
  readonly transient: boolean;
  /** HTTP status, when there was an answer. */
  readonly status?: number;
  /** `Retry-After` of the answer, ms. */
  readonly retryAfterMs?: number;

  /**
   * Creates the failure with an operator-facing `message`.
   *
   * @example Usage
   * ```ts
   * import { BackendFailure } from "./failure.ts";
   * const failure = new BackendFailure("the model API answered HTTP 500", { transient: true, status: 500 });
   * console.assert(failure.transient);
   * ```
   */
  constructor(message: string, options: BackendFailureOptions) {
    super(message);
    this.name = "BackendFailure";
    this.transient = options.transient;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }

  /**
   * The same failure, its message saying it persisted over `attempts` attempts.
   *
   * @example Usage
   * ```ts
   * import { BackendFailure } from "./failure.ts";
   * const failure = new BackendFailure("HTTP 503", { transient: true }).afterAttempts(3);
   * console.assert(failure.message === "HTTP 503 (after 3 attempts)");
   * ```
   */
  afterAttempts(attempts: number): BackendFailure {
    return new BackendFailure(`${this.message} (after ${attempts} attempts)`, {
      transient: this.transient,
      status: this.status,
      retryAfterMs: this.retryAfterMs,
    });
  }
}

/** Names used to say what to fix in a failure. */
export interface FailureContext {
  /** The server, e.g. "the model API at api.example.com" or "Hermes at 127.0.0.1:8642". */
  server: string;
  /** Where the key comes from, e.g. "OPENAI_API_KEY" (absent: no key configured). */
  keyEnv?: string;
  /** The config key of the base URL (default agent.openai.base_url). */
  urlKey?: string;
  /** The config key of the model (default agent.openai.model). */
  modelKey?: string;
  /** The model asked for. */
  model?: string;
}

/**
 * `Retry-After` (seconds or an HTTP date) in ms, or undefined.
 *
 * @example Usage
 * ```ts
 * import { retryAfterMs } from "./failure.ts";
 * console.assert(retryAfterMs("2") === 2000);
 * ```
 */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * The failure for an HTTP error status: 408, 409, 425, 429 and 5xx are
 * transient; 401/403 name the key, 404 the URL or model, 400 and other 4xx
 * the request.
 *
 * @example Usage
 * ```ts
 * import { httpFailure } from "./failure.ts";
 * const failure = httpFailure(401, "Invalid API key", {
 *   server: "Hermes at 127.0.0.1:8642", keyEnv: "API_SERVER_KEY",
 * });
 * console.assert(!failure.transient && failure.message.includes("API_SERVER_KEY"));
 * ```
 */
export function httpFailure(
  status: number,
  reason: string,
  context: FailureContext,
  retryAfter?: number,
): BackendFailure {
  const said = reason ? `: ${reason}` : "";
  const urlKey = context.urlKey ?? "agent.openai.base_url";
  const modelKey = context.modelKey ?? "agent.openai.model";
  if (status === 401 || status === 403) {
    const key = context.keyEnv
      ? `the key in ${context.keyEnv} is rejected by ${context.server} (HTTP ${status}${said}): ` +
        `set ${context.keyEnv} to a key that server accepts`
      : `${context.server} refused the request (HTTP ${status}${said}): it needs an API key; ` +
        "set one in the variable named by the api_key_env setting";
    return new BackendFailure(key, { transient: false, status });
  }
  if (status === 404) {
    const model = /model/i.test(reason);
    return new BackendFailure(
      model
        ? `${context.server} does not know the model${
          context.model ? ` '${context.model}'` : ""
        } (HTTP 404${said}): set ${modelKey} to one it lists at /v1/models`
        : `${context.server} has no chat completions endpoint there (HTTP 404${said}): ` +
          `check ${urlKey} (it usually ends in /v1)`,
      { transient: false, status },
    );
  }
  const transient = status === 408 || status === 409 || status === 425 || status === 429 ||
    status >= 500;
  if (transient) {
    return new BackendFailure(`${context.server} answered HTTP ${status}${said}`, {
      transient: true,
      status,
      retryAfterMs: retryAfter,
    });
  }
  return new BackendFailure(
    `${context.server} refused the request (HTTP ${status}${said}): check ${modelKey} and ` +
      "the server's log",
    { transient: false, status },
  );
}

/**
 * `check --online` for the agent: proves the configured agent can answer,
 * one line per finding, each failure naming the fix.
 *
 * - openai: the server answers `GET /models` (reachable) and lists the
 *   model; a `POST /chat/completions` without messages proves the key: a
 *   server refuses it (400) before any model run, and a wrong key first
 *   (401), so no model run is spent.
 * - hermes: the same, the probe carrying the session headers: Hermes answers
 *   403 when it has no `API_SERVER_KEY` (session features refused). This
 *   assumes Hermes checks the key and headers before the body, as the
 *   documented 401/403 answers suggest.
 * - command: the program is found (on PATH or as a path) and executable; the
 *   working directory exists.
 * - http: the webhook's host accepts a TCP connection (nothing is posted).
 *
 * @example Usage
 * ```ts ignore
 * import { checkAgentOnline } from "./check.ts";
 * for (const line of await checkAgentOnline(config.agent, { timeoutMs: 5000, env: Deno.env.toObject() })) {
 *   console.log(line.verdict, line.text);
 * }
 * ```
 *
 * @module
 */

import { isAbsolute, join, resolve } from "../path.ts";
import { describeFetchError, redactSecrets, safeUrl, shorten } from "../text/format.ts";
import { guardedFetch, RedirectRefusedError } from "../guarded_fetch.ts";
import { HERMES_DEFAULTS } from "./backends/hermes.ts";
import type { AgentConfig } from "../config/types.ts";

/** One finding: fine, a warning, or a failed check. */
export interface AgentCheckLine {
  verdict: "ok" | "warn" | "fail";
  text: string;
}

/** What the checks need besides the config. */
export interface AgentCheckOptions {
  /** Timeout of each network call, ms. */
  timeoutMs: number;
  /** The environment (PATH for the command kind). */
  env: Record<string, string>;
  /** Working directory for a relative program path. */
  cwd?: string;
}

interface Server {
  baseUrl: string;
  apiKey: string;
  keyEnv: string;
  model: string;
  urlKey: string;
  modelKey: string;
  headers: Record<string, string>;
}

async function call(
  server: Server,
  path: string,
  init: RequestInit,
  timeoutMs: number,
): Promise<{ status: number; body: string } | { error: string }> {
  const headers = new Headers(server.headers);
  if (server.apiKey) headers.set("authorization", `Bearer ${server.apiKey}`);
  for (const [name, value] of new Headers(init.headers)) headers.set(name, value);
  try {
    // Guarded as the backends are: the key never follows a redirect to another origin.
    const response = await guardedFetch(`${server.baseUrl.replace(/\/+$/, "")}${path}`, {
      ...init,
      headers,
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: response.status, body: await response.text() };
  } catch (error) {
    const reason = error instanceof DOMException && error.name === "TimeoutError"
      ? `no answer within ${Math.round(timeoutMs / 1000)} s`
      : error instanceof RedirectRefusedError
      ? error.message
      : describeFetchError(error);
    return { error: redactSecrets(reason, [server.apiKey]) };
  }
}

function errorText(body: string): string {
  try {
    const value = JSON.parse(body);
    const message = value?.error?.message ?? value?.error ?? value?.message;
    if (typeof message === "string") return shorten(message, 120);
  } catch {
    // not JSON
  }
  return shorten(body.replace(/\s+/g, " ").trim(), 120);
}

function keyRejected(server: Server, status: number, body: string): AgentCheckLine {
  const url = safeUrl(server.baseUrl);
  const said = errorText(body);
  return {
    verdict: "fail",
    text: server.apiKey
      ? `the key in ${server.keyEnv} is rejected by ${url} (HTTP ${status}${
        said ? `: ${said}` : ""
      }): set ${server.keyEnv} to a key that server accepts`
      : `${url} wants an API key (HTTP ${status}): set ${server.keyEnv} to it`,
  };
}

/** Reachable, key accepted, model listed (`GET /models`). */
async function checkModels(server: Server, timeoutMs: number): Promise<AgentCheckLine[]> {
  const url = safeUrl(server.baseUrl);
  const answer = await call(server, "/models", { method: "GET" }, timeoutMs);
  if ("error" in answer) {
    return [{
      verdict: "fail",
      text: `cannot reach ${url}: ${answer.error}; start the server or fix ${server.urlKey}`,
    }];
  }
  if (answer.status === 401 || answer.status === 403) {
    return [keyRejected(server, answer.status, answer.body)];
  }
  if (answer.status === 404) {
    return [{
      verdict: "warn",
      text: `${url} answers but has no /models (HTTP 404): the model '${server.model}' could ` +
        `not be confirmed; check ${server.urlKey} ends in /v1`,
    }];
  }
  if (answer.status < 200 || answer.status >= 300) {
    return [{
      verdict: "fail",
      text: `${url}/models answered HTTP ${answer.status}: ${errorText(answer.body)}`,
    }];
  }
  let ids: string[] = [];
  try {
    const data = JSON.parse(answer.body)?.data;
    if (Array.isArray(data)) ids = data.map((entry) => String(entry?.id ?? ""));
  } catch {
    // an odd listing: the model cannot be confirmed
  }
  const lines: AgentCheckLine[] = [{
    verdict: "ok",
    text: `${url} is reachable`,
  }];
  if (ids.includes(server.model)) {
    lines.push({ verdict: "ok", text: `model '${server.model}' is served there` });
  } else {
    lines.push({
      verdict: "fail",
      text: `${url} does not list the model '${server.model}': set ${server.modelKey} to one ` +
        `it lists (${shorten(ids.filter(Boolean).join(", ") || "none", 160)})`,
    });
  }
  return lines;
}

/**
 * The key (and for Hermes the session headers) accepted, proved by a chat
 * completions request without messages: servers refuse it (400) before any
 * model run, and refuse a wrong key first (401).
 */
async function checkKey(
  server: Server,
  timeoutMs: number,
  hermes: boolean,
): Promise<AgentCheckLine> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (hermes) {
    headers["X-Hermes-Session-Id"] = "wecom-gateway-check";
    headers["X-Hermes-Session-Key"] = "wecom-gateway-check";
  }
  const answer = await call(server, "/chat/completions", {
    method: "POST",
    headers,
    body: JSON.stringify({ model: server.model, messages: [] }),
  }, timeoutMs);
  if ("error" in answer) {
    return { verdict: "fail", text: `cannot reach the chat completions endpoint: ${answer.error}` };
  }
  if (answer.status === 401) return keyRejected(server, answer.status, answer.body);
  if (answer.status === 403) {
    return hermes
      ? {
        verdict: "fail",
        text: `Hermes refuses session headers (HTTP 403: ${errorText(answer.body)}): set ` +
          `API_SERVER_KEY in Hermes' $HERMES_HOME/.env and the same value in ${server.keyEnv}`,
      }
      : keyRejected(server, answer.status, answer.body);
  }
  const what = hermes ? "Hermes accepts the key and the session headers" : "the key is accepted";
  if (
    answer.status === 400 || answer.status === 422 || (answer.status >= 200 && answer.status < 300)
  ) {
    return { verdict: "ok", text: what };
  }
  return {
    verdict: "warn",
    text: `${safeUrl(server.baseUrl)}/chat/completions answered HTTP ${answer.status} to a ` +
      `request without messages (expected 400): ${errorText(answer.body)}`,
  };
}

/** Reachable and model listed, then the key (and Hermes' session headers) accepted. */
async function checkServer(
  server: Server,
  timeoutMs: number,
  hermes: boolean,
): Promise<AgentCheckLine[]> {
  const lines = await checkModels(server, timeoutMs);
  if (
    lines.some((line) => line.verdict === "fail" && /cannot reach|rejected|wants/.test(line.text))
  ) {
    return lines;
  }
  return [...lines, await checkKey(server, timeoutMs, hermes)];
}

async function executable(path: string): Promise<"ok" | "missing" | "not-executable" | "dir"> {
  try {
    const info = await Deno.stat(path);
    if (info.isDirectory) return "dir";
    if (info.mode !== null && (info.mode & 0o111) === 0) return "not-executable";
    return "ok";
  } catch {
    return "missing";
  }
}

async function checkCommand(
  agent: AgentConfig,
  options: AgentCheckOptions,
): Promise<AgentCheckLine[]> {
  const lines: AgentCheckLine[] = [];
  const program = agent.command.argv[0];
  const cwd = agent.command.cwd;
  if (cwd) {
    try {
      const info = await Deno.stat(cwd);
      lines.push(
        info.isDirectory
          ? { verdict: "ok", text: `working directory ${cwd} exists` }
          : { verdict: "fail", text: `agent.command.cwd ${cwd} is not a directory: fix it` },
      );
    } catch {
      lines.push({
        verdict: "fail",
        text: `agent.command.cwd ${cwd} does not exist: create it or fix agent.command.cwd`,
      });
    }
  }
  if (!program) {
    lines.push({ verdict: "fail", text: "agent.command.argv is empty: set the program to run" });
    return lines;
  }
  const candidates = program.includes("/")
    ? [isAbsolute(program) ? program : resolve(cwd ?? options.cwd ?? ".", program)]
    : (options.env.PATH ?? "").split(":").filter(Boolean).map((dir) => join(dir, program));
  let seen: "missing" | "not-executable" | "dir" = "missing";
  for (const candidate of candidates) {
    const state = await executable(candidate);
    if (state === "ok") {
      lines.push({ verdict: "ok", text: `the agent program ${candidate} is executable` });
      return lines;
    }
    if (state !== "missing") seen = state;
  }
  lines.push({
    verdict: "fail",
    text: seen === "not-executable"
      ? `the agent program '${program}' is not executable: chmod +x it`
      : program.includes("/")
      ? `the agent program '${program}' does not exist: fix agent.command.argv`
      : `the agent program '${program}' is not on PATH: install it, or give its full path ` +
        "in agent.command.argv",
  });
  return lines;
}

async function checkHttp(agent: AgentConfig, timeoutMs: number): Promise<AgentCheckLine[]> {
  let url: URL;
  try {
    url = new URL(agent.http.url);
  } catch {
    return [{ verdict: "fail", text: "agent.http.url is not a valid URL: fix it" }];
  }
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  try {
    const connection = await Deno.connect({
      hostname,
      port,
      signal: AbortSignal.timeout(timeoutMs),
    }).catch((error) => {
      // The timeout's abort leaves no connection half-open behind (a raced timer would).
      throw error instanceof DOMException ? new Error(`no answer within ${timeoutMs} ms`) : error;
    });
    connection.close();
    return [{ verdict: "ok", text: `the agent webhook's host ${url.host} is reachable` }];
  } catch (error) {
    return [{
      verdict: "fail",
      text: `cannot reach the agent webhook at ${url.host}: ${
        (error as Error).message
      }; start it or fix agent.http.url`,
    }];
  }
}

/**
 * The online checks of `agent`, one line each.
 *
 * @example Usage
 * ```ts
 * import { checkAgentOnline } from "./check.ts";
 * const lines = await checkAgentOnline({ kind: "echo" } as never, { timeoutMs: 1000, env: {} });
 * console.assert(lines[0].verdict === "ok");
 * ```
 */
export async function checkAgentOnline(
  agent: AgentConfig,
  options: AgentCheckOptions,
): Promise<AgentCheckLine[]> {
  switch (agent.kind) {
    case "echo":
      return [{ verdict: "ok", text: "the echo agent needs nothing" }];
    case "openai":
      return await checkServer(
        {
          baseUrl: agent.openai.baseUrl,
          apiKey: agent.openai.apiKey,
          keyEnv: agent.openai.apiKeyEnv ?? "OPENAI_API_KEY",
          model: agent.openai.model,
          urlKey: "agent.openai.base_url",
          modelKey: "agent.openai.model",
          headers: agent.openai.headers ?? {},
        },
        options.timeoutMs,
        false,
      );
    case "hermes": {
      const settings = { ...HERMES_DEFAULTS, ...agent.hermes };
      const server: Server = {
        baseUrl: settings.baseUrl,
        apiKey: settings.apiKey,
        keyEnv: settings.apiKeyEnv,
        model: settings.model,
        urlKey: "agent.hermes.base_url",
        modelKey: "agent.hermes.model",
        headers: settings.headers,
      };
      return await checkServer(server, options.timeoutMs, true);
    }
    case "command":
      return await checkCommand(agent, options);
    case "http":
      return await checkHttp(agent, options.timeoutMs);
  }
}

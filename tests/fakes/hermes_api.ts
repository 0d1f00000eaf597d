/**
 * A fake of Hermes Agent's API server (the `api_server` platform of
 * `hermes gateway run`), written from the documented facts of its
 * behaviour, not from the gateway's code:
 *
 * - `GET /health`, `GET /v1/health`, `GET /v1/models` (lists `hermes-agent`).
 * - `POST /v1/chat/completions`, OpenAI's shape. A wrong key → 401
 *   `invalid_api_key`; no `messages` → 400 "Missing or invalid 'messages'
 *   field"; no user message → 400; more runs at once than
 *   `maxConcurrentRuns` → 429.
 * - Sessions: `X-Hermes-Session-Id` (≤ 256 chars, no CR/LF/NUL; refused with
 *   403 when the server has no key) selects a transcript the server keeps;
 *   the history in the body is ignored and the new user message appended.
 *   Without the header the session id is derived from a hash of the system
 *   prompt and the FIRST user message of the request (so two people who open
 *   with the same words share one). `X-Hermes-Session-Key` is recorded. The
 *   answer echoes `X-Hermes-Session-Id` (and the key when sent).
 * - Failures: `failure: "no_text"` → 502 `agent_incomplete` with
 *   `X-Hermes-Completed: false`; `"provider_down"` → 200, finish_reason
 *   `error`, content "API call failed after 3 retries: Connection error.",
 *   `hermes.completed: false`, `X-Hermes-Completed: false`, `X-Hermes-Error`;
 *   `"truncated"` → 200, finish_reason `length`, `error_code:
 *   "output_truncated"`.
 *
 * `stop()` closes the listener (Hermes down: connection refused) and
 * `restart()` listens again on the same port with the same sessions.
 *
 * @example Usage
 * ```ts ignore
 * import { startFakeHermes } from "./hermes_api.ts";
 * const hermes = startFakeHermes({ apiKey: "k-test" });
 * // agent.hermes.base_url = hermes.url
 * console.log(hermes.sessions);
 * await hermes.close();
 * ```
 *
 * @module
 */

/** One message of a transcript. */
export interface HermesMessage {
  role: string;
  content: string;
}

/** A chat completions request the fake received. */
export interface HermesRequest {
  path: string;
  authorization: string;
  /** `X-Hermes-Session-Id` as sent, or undefined. */
  sessionHeader?: string;
  /** `X-Hermes-Session-Key` as sent, or undefined. */
  sessionKey?: string;
  /** The session the turn went to (header, or derived). */
  sessionId: string;
  body: { model?: string; messages?: HermesMessage[]; user?: unknown; [key: string]: unknown };
  /** The new user message (the last one of the body). */
  text: string;
}

/** What a turn does. */
export interface HermesBehaviour {
  /** Answer text (default: "Hermes: " + the message). */
  content?: string;
  /** Wait this long first (a slow run). */
  delayMs?: number;
  /** Fail as documented instead of answering. */
  failure?: "no_text" | "provider_down" | "truncated";
}

/** Options of {@linkcode startFakeHermes}. */
export interface FakeHermesOptions {
  /** `API_SERVER_KEY`; absent: no key (session headers refused with 403). */
  apiKey?: string;
  /** `gateway.api_server.max_concurrent_runs` (default 10). */
  maxConcurrentRuns?: number;
  /** What each turn does (default: answer at once). */
  behave?: (request: HermesRequest) => HermesBehaviour;
}

/** A running fake. */
export interface FakeHermes {
  /** Base URL including `/v1`. */
  url: string;
  port: number;
  /** Every chat completions request received (accepted or not), in order. */
  requests: HermesRequest[];
  /** Transcripts by session id. */
  sessions: Map<string, HermesMessage[]>;
  /** Connection attempts that reached the listener, per path. */
  hits: Map<string, number>;
  /** Runs that ended (answered or failed), whether or not the client still listened. */
  finished: HermesRequest[];
  behave: (request: HermesRequest) => HermesBehaviour;
  /** Stops listening (clients get connection refused). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): void;
  close(): Promise<void>;
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function apiError(status: number, message: string, code: string | null = null): Response {
  return json({ error: { message, type: "invalid_request_error", code } }, status);
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function validId(value: string): boolean {
  // deno-lint-ignore no-control-regex
  return value.length > 0 && value.length <= 256 && !/[\r\n\u0000]/.test(value);
}

/**
 * Starts the fake on 127.0.0.1 with an ephemeral port.
 *
 * @example Usage
 * ```ts ignore
 * const hermes = startFakeHermes({ apiKey: "k", behave: () => ({ failure: "provider_down" }) });
 * await hermes.close();
 * ```
 */
export function startFakeHermes(options: FakeHermesOptions = {}): FakeHermes {
  const maxRuns = options.maxConcurrentRuns ?? 10;
  const sessions = new Map<string, HermesMessage[]>();
  const requests: HermesRequest[] = [];
  const hits = new Map<string, number>();
  const finished: HermesRequest[] = [];
  const closing = new AbortController();
  let running = 0;

  function authorized(request: Request): boolean {
    if (!options.apiKey) return true;
    return request.headers.get("authorization") === `Bearer ${options.apiKey}`;
  }

  async function chat(request: Request): Promise<Response> {
    if (!authorized(request)) return apiError(401, "Invalid API key", "invalid_api_key");
    const header = request.headers.get("x-hermes-session-id") ?? undefined;
    const key = request.headers.get("x-hermes-session-key") ?? undefined;
    if ((header !== undefined || key !== undefined) && !options.apiKey) {
      return apiError(403, "Session headers require API_SERVER_KEY to be set", "forbidden");
    }
    let body: HermesRequest["body"];
    try {
      body = await request.json();
    } catch {
      return apiError(400, "Invalid JSON body");
    }
    const messages = body?.messages;
    if (!Array.isArray(messages) || messages.length === 0) {
      return apiError(400, "Missing or invalid 'messages' field");
    }
    const users = messages.filter((m) => m?.role === "user");
    if (users.length === 0) return apiError(400, "No user message found in messages");
    if (
      (header !== undefined && !validId(header)) || (key !== undefined && !validId(key))
    ) {
      return apiError(400, "Invalid X-Hermes-Session-Id or X-Hermes-Session-Key");
    }
    const system = messages.filter((m) => m?.role === "system").map((m) => m.content).join("\n");
    const sessionId = header ?? `derived-${await sha256Hex(`${system}\n${users[0].content}`)}`;
    const text = String(users[users.length - 1].content ?? "");
    const seen: HermesRequest = {
      path: new URL(request.url).pathname,
      authorization: request.headers.get("authorization") ?? "",
      sessionHeader: header,
      sessionKey: key,
      sessionId,
      body,
      text,
    };
    requests.push(seen);
    if (running >= maxRuns) return apiError(429, "Too many concurrent runs", "rate_limited");
    running++;
    try {
      const plan = fake.behave(seen);
      if (plan.delayMs) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, plan.delayMs);
          closing.signal.addEventListener("abort", () => {
            clearTimeout(timer);
            resolve();
          }, { once: true });
          request.signal.addEventListener("abort", () => {
            clearTimeout(timer);
            resolve();
          }, { once: true });
        });
      }
      const transcript = sessions.get(sessionId) ?? [];
      sessions.set(sessionId, transcript);
      transcript.push({ role: "user", content: text });
      const headers: Record<string, string> = { "X-Hermes-Session-Id": sessionId };
      if (key !== undefined) headers["X-Hermes-Session-Key"] = key;
      const answer = (content: string, finish: string, hermes?: Record<string, unknown>) =>
        json(
          {
            id: `chatcmpl-${requests.length}`,
            object: "chat.completion",
            created: Math.floor(Date.now() / 1000),
            model: body.model ?? "hermes-agent",
            choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: finish }],
            ...(hermes ? { hermes } : {}),
          },
          200,
          hermes
            ? {
              ...headers,
              "X-Hermes-Completed": "false",
              ...(hermes.error ? { "X-Hermes-Error": String(hermes.error).slice(0, 200) } : {}),
            }
            : headers,
        );
      switch (plan.failure) {
        case "no_text":
          return json(
            {
              error: {
                message: "Agent run did not complete",
                type: "server_error",
                code: "agent_incomplete",
                hermes: { completed: false, partial: false, failed: true },
              },
            },
            502,
            { ...headers, "X-Hermes-Completed": "false", "X-Hermes-Partial": "false" },
          );
        case "provider_down":
          return answer("API call failed after 3 retries: Connection error.", "error", {
            completed: false,
            partial: true,
            failed: true,
            error: "API call failed after 3 retries: Connection error.",
            error_code: "agent_error",
          });
        case "truncated": {
          const content = plan.content ?? "The first half of a long answer";
          transcript.push({ role: "assistant", content });
          return answer(content, "length", {
            completed: false,
            partial: true,
            failed: false,
            error: "output truncated",
            error_code: "output_truncated",
          });
        }
      }
      const content = plan.content ?? `Hermes: ${text}`;
      transcript.push({ role: "assistant", content });
      return answer(content, "stop");
    } finally {
      running--;
      finished.push(seen);
    }
  }

  async function handle(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (request.method === "GET" && ["/health", "/v1/health"].includes(path)) {
      return json({ status: "ok", platform: "hermes-agent" });
    }
    if (request.method === "GET" && path === "/v1/models") {
      if (!authorized(request)) return apiError(401, "Invalid API key", "invalid_api_key");
      return json({
        object: "list",
        data: [{ id: "hermes-agent", object: "model", owned_by: "hermes" }],
      });
    }
    if (request.method === "POST" && path === "/v1/chat/completions") return await chat(request);
    return apiError(404, `Not found: ${path}`);
  }

  let server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handle);
  const port = server.addr.port;
  const fake: FakeHermes = {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    sessions,
    hits,
    finished,
    behave: options.behave ?? (() => ({})),
    async stop() {
      await server.shutdown();
    },
    restart() {
      server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, handle);
    },
    async close() {
      closing.abort();
      await server.shutdown().catch(() => {});
    },
  };
  return fake;
}

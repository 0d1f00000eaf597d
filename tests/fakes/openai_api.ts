/**
 * A fake OpenAI-compatible chat completions server for tests and demos.
 *
 * Listens on 127.0.0.1 with an ephemeral port. `url` is the base URL to put in
 * `agent.openai.base_url` (it ends in `/v1`, as OpenAI's does). It records
 * every request and answers `POST /v1/chat/completions` with the OpenAI
 * response shape; `GET /v1/models` lists the model. The answer is set by
 * `setReply`: a string, or a function of the request returning a string or a
 * {@linkcode FakeReply} (a `<think>` block, a delay, an HTTP error).
 *
 * @example Usage
 * ```ts ignore
 * import { startFakeOpenAi } from "./openai_api.ts";
 * const fake = startFakeOpenAi({ reply: "hello" });
 * fake.setReply((request) => ({ think: "pondering", content: `echo: ${request.lastUserText}` }));
 * // … point the openai backend at fake.url …
 * console.log(fake.requests[0].body.messages);
 * await fake.close();
 * ```
 *
 * @module
 */

import { delay } from "../../src/delay.ts";

/** One message of a recorded request. */
export interface FakeChatMessage {
  role: string;
  content: string;
}

/** A request the fake received. */
export interface FakeOpenAiRequest {
  method: string;
  path: string;
  /** The Authorization header, or "" when absent. */
  authorization: string;
  /** The parsed JSON body (`{model, messages, …}`); empty messages when the body was not JSON. */
  body: { model?: string; messages: FakeChatMessage[]; [field: string]: unknown };
  /** Content of the last user message, for convenience. */
  lastUserText: string;
}

/** A scripted answer. */
export interface FakeReply {
  /** Assistant message content (default ""). */
  content?: string;
  /** Reasoning placed before the content as `<think>…</think>\n`. */
  think?: string;
  /** Wait this long before answering (cut short by `close()`). */
  delayMs?: number;
  /** Answer with this HTTP status and an OpenAI error body instead (e.g. 500, 429). */
  status?: number;
  /** `error.message` of that error body. */
  error?: string;
  /** Answer with this raw body (and status, default 200) as-is. */
  rawBody?: string;
}

/** What `setReply` accepts. */
export type FakeReplySource =
  | string
  | FakeReply
  | ((request: FakeOpenAiRequest) => string | FakeReply | Promise<string | FakeReply>);

/** Options of {@linkcode startFakeOpenAi}. */
export interface FakeOpenAiOptions {
  /** The first answer source (default: "fake reply"). */
  reply?: FakeReplySource;
  /** When set, requests without `Authorization: Bearer <apiKey>` get a 401 like OpenAI's. */
  apiKey?: string;
  /** Model name reported by `/v1/models` and in answers (default "fake-model"). */
  model?: string;
}

/** A running fake. */
export interface FakeOpenAi {
  /** Base URL including `/v1`, e.g. `http://127.0.0.1:41234/v1`. */
  url: string;
  /** Every request received, in order. */
  requests: FakeOpenAiRequest[];
  /** Replaces the answer source. */
  setReply(source: FakeReplySource): void;
  /** Stops the server; delayed answers in flight end at once. */
  close(): Promise<void>;
}

/**
 * Starts the fake on 127.0.0.1:0.
 *
 * @example Usage
 * ```ts ignore
 * import { startFakeOpenAi } from "./openai_api.ts";
 * const fake = startFakeOpenAi({ reply: { status: 500, error: "overloaded" } });
 * await fake.close();
 * ```
 */
export function startFakeOpenAi(options: FakeOpenAiOptions = {}): FakeOpenAi {
  const requests: FakeOpenAiRequest[] = [];
  let source: FakeReplySource = options.reply ?? "fake reply";
  const model = options.model ?? "fake-model";
  const stopping = new AbortController();
  let counter = 0;

  const handler = async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname;
    const authorization = req.headers.get("authorization") ?? "";
    if (req.method === "GET" && path === "/v1/models") {
      return json(200, {
        object: "list",
        data: [{ id: model, object: "model", owned_by: "fake" }],
      });
    }
    if (path !== "/v1/chat/completions") {
      return json(
        404,
        errorBody(`Unknown request URL: ${req.method} ${path}`, "invalid_request_error"),
      );
    }
    if (req.method !== "POST") {
      return json(405, errorBody("Method not allowed", "invalid_request_error"));
    }
    const raw = await req.text();
    let body: FakeOpenAiRequest["body"] = { messages: [] };
    try {
      body = JSON.parse(raw);
    } catch {
      // recorded as empty; answered 400 below
    }
    const messages = Array.isArray(body.messages) ? body.messages : [];
    const users = messages.filter((message) => message?.role === "user");
    const request: FakeOpenAiRequest = {
      method: req.method,
      path,
      authorization,
      body: { ...body, messages },
      lastUserText: String(users.at(-1)?.content ?? ""),
    };
    requests.push(request);
    if (options.apiKey !== undefined && authorization !== `Bearer ${options.apiKey}`) {
      return json(
        401,
        errorBody(
          "Incorrect API key provided. You can find your API key in your account.",
          "invalid_request_error",
          "invalid_api_key",
        ),
      );
    }
    if (messages.length === 0) {
      return json(400, errorBody("'messages' is a required property", "invalid_request_error"));
    }

    const current = source;
    const answer = typeof current === "function" ? await current(request) : current;
    const reply: FakeReply = typeof answer === "string" ? { content: answer } : answer;
    if (reply.delayMs) {
      const aborted = await sleep(reply.delayMs, stopping.signal);
      if (aborted) return new Response(null, { status: 499 });
    }
    if (reply.rawBody !== undefined) {
      return new Response(reply.rawBody, {
        status: reply.status ?? 200,
        headers: { "content-type": "application/json" },
      });
    }
    if (reply.status && reply.status >= 400) {
      return json(
        reply.status,
        errorBody(reply.error ?? "The server had an error", "server_error"),
      );
    }
    const content = (reply.think !== undefined ? `<think>${reply.think}</think>\n` : "") +
      (reply.content ?? "");
    counter++;
    return json(200, {
      id: `chatcmpl-fake-${counter}`,
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model: body.model ?? model,
      choices: [{
        index: 0,
        message: { role: "assistant", content },
        logprobs: null,
        finish_reason: "stop",
      }],
      usage: {
        prompt_tokens: raw.length,
        completion_tokens: content.length,
        total_tokens: raw.length + content.length,
      },
    });
  };

  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
    onError: (error) => json(500, errorBody(`fake server error: ${error}`, "server_error")),
  }, handler);
  const { port } = server.addr as Deno.NetAddr;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    setReply: (next) => {
      source = next;
    },
    close: async () => {
      stopping.abort();
      await server.shutdown();
    },
  };
}

function json(status: number, value: unknown): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function errorBody(message: string, type: string, code: string | null = null) {
  return { error: { message, type, param: null, code } };
}

/** Resolves after `ms` (false) or as soon as `signal` aborts (true), leaving no timer behind. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return delay(ms, { signal }).then(() => false, () => true);
}

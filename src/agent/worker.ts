/**
 * The entry point of an agent worker (a Web Worker started by `./pool.ts`).
 *
 * Receives `{type: "run", id, request, config}`, runs the backend chosen by
 * `config.kind` and posts `{type: "reply", id, reply}` or
 * `{type: "error", id, message}`. `{type: "cancel", id}` aborts that run's
 * signal; `{type: "ping"}` is answered with `{type: "pong"}` so the pool can
 * tell a live worker from one that closed itself.
 *
 * It catches everything it can: a backend that throws, rejects, or leaves an
 * uncaught error or unhandled rejection behind fails its runs with an `error`
 * message instead of killing the worker.
 *
 * Reference it as `new URL("./worker.ts", import.meta.url)` so that
 * `deno compile` can include it.
 *
 * @example Usage
 * ```ts ignore
 * const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
 * worker.postMessage({ type: "run", id: "r1", request, config });
 * ```
 *
 * @module
 */

import type { FromWorker, ToWorker } from "./protocol.ts";
import { selectBackend } from "./backend.ts";

/** The parts of the worker global scope used here. */
interface WorkerScope {
  postMessage(message: FromWorker): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  addEventListener(type: "error", listener: (event: ErrorEvent) => void): void;
  addEventListener(
    type: "unhandledrejection",
    listener: (event: PromiseRejectionEvent) => void,
  ): void;
}

const scope = globalThis as unknown as WorkerScope;
const runs = new Map<string, AbortController>();

function post(message: FromWorker): void {
  try {
    scope.postMessage(message);
  } catch (error) {
    // A reply that cannot be cloned: report that instead.
    if (message.type === "reply") {
      scope.postMessage({
        type: "error",
        id: message.id,
        message: `the agent's reply could not be passed on: ${messageOf(error)}`,
      });
    }
  }
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/** Fails every run in flight: something escaped a backend and they cannot be trusted. */
function failAll(reason: string): void {
  for (const [id, controller] of runs) {
    runs.delete(id);
    controller.abort(new Error(reason));
    post({ type: "error", id, message: reason });
  }
}

async function run(id: string, message: Extract<ToWorker, { type: "run" }>): Promise<void> {
  const controller = new AbortController();
  runs.set(id, controller);
  let outcome: FromWorker;
  try {
    const backend = selectBackend(message.config.kind);
    const reply = await backend(message.request, message.config, controller.signal);
    outcome = {
      type: "reply",
      id,
      reply: { text: String(reply?.text ?? ""), attachments: reply?.attachments ?? [] },
    };
  } catch (error) {
    outcome = { type: "error", id, message: messageOf(error) };
  }
  // Already answered by failAll(): say nothing twice.
  if (runs.get(id) !== controller) return;
  runs.delete(id);
  post(outcome);
}

scope.onmessage = (event) => {
  const message = event.data;
  switch (message?.type) {
    case "ping":
      post({ type: "pong" });
      return;
    case "cancel":
      runs.get(message.id)?.abort(new Error("the run was cancelled"));
      return;
    case "run":
      void run(message.id, message);
      return;
  }
};

scope.addEventListener("error", (event) => {
  event.preventDefault();
  const reason = event.error instanceof Error ? event.error.message : event.message;
  failAll(`the agent hit an uncaught error: ${reason}`);
});

scope.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  failAll(`the agent hit an unhandled rejection: ${messageOf(event.reason)}`);
});

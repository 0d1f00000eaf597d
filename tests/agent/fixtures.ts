/**
 * What the agent tests build again and again: an agent configuration with
 * every backend's section present (empty unless a test fills it), a request
 * for a text message from `zhang` in corp `ww1`, and a signal that never
 * aborts.
 *
 * @example Usage
 * ```ts ignore
 * import { agentConfig, live, textRequest } from "./fixtures.ts";
 * const config = agentConfig({ kind: "http", http: { url, headers: {} } });
 * const reply = await httpBackend(textRequest("hi"), config, live());
 * ```
 *
 * @module
 */

import type { AgentRequest } from "../../src/records/agent.ts";
import type { AgentConfig } from "../../src/config/types.ts";

/** An echo agent (timeout 10 s, one worker) with empty backend sections, then `overrides`. */
export function agentConfig(overrides: Partial<AgentConfig> = {}): AgentConfig {
  return {
    kind: "echo",
    timeoutMs: 10_000,
    workers: 1,
    openai: { baseUrl: "", apiKey: "", model: "", systemPrompt: "", historyMaxBytes: 0 },
    command: { argv: [] },
    http: { url: "", headers: {} },
    ...overrides,
  };
}

/**
 * The request for the text message `text` from `zhang` (corp `ww1`, agent
 * 1000002, app `default`, job `job-1`, no history), then `overrides`.
 */
export function textRequest(text: string, overrides: Partial<AgentRequest> = {}): AgentRequest {
  return {
    jobId: "job-1",
    conversation: "ww1:zhang",
    app: "default",
    corpId: "ww1",
    agentId: "1000002",
    userId: "zhang",
    text,
    message: {
      type: "text",
      content: text,
      corpId: "ww1",
      userId: "zhang",
      createTime: 1,
      agentId: "1000002",
      msgId: "1",
    },
    history: [],
    ...overrides,
  };
}

/** A signal that never aborts. */
export const live = (): AbortSignal => new AbortController().signal;

/**
 * A worker module speaking the agent pool's protocol that misbehaves on request:
 * on the text "close" it closes itself, on "hang" it never answers, on "throw"
 * it throws an uncaught error (a real crash: Deno prints it, so only
 * `pool_crash_child.ts` sends it); any other text gets `ok: <text>`.
 */
export const MISBEHAVING_WORKER: URL = new URL(
  "data:application/javascript," + encodeURIComponent(`
self.onmessage = (event) => {
  const message = event.data;
  if (message.type === "ping") return self.postMessage({ type: "pong" });
  if (message.type !== "run") return;
  const text = message.request.text;
  if (text === "close") { setTimeout(() => self.close(), 10); return; }
  if (text === "hang") return;
  if (text === "throw") { setTimeout(() => { throw new Error("boom in worker"); }, 10); return; }
  self.postMessage({ type: "reply", id: message.id, reply: { text: "ok: " + text, attachments: [] } });
};`),
);

/**
 * A webhook for the `http` agent backend that counts its runs: it answers
 * each request with the message text (an echo) after `delayMs`, and records
 * how many times each job id ran and how many runs are in progress.
 *
 * @example Usage
 * ```ts ignore
 * import { startCountingAgent } from "./counting_agent.ts";
 * const agent = startCountingAgent({ delayMs: 100 });
 * // agent.url → config.agent.http.url
 * console.log(agent.runs.get(jobId), agent.maxInFlight);
 * await agent.close();
 * ```
 *
 * @module
 */

/** A running counting agent. */
export interface CountingAgent {
  /** The webhook URL. */
  url: string;
  /** Runs per job id (completed or not). */
  runs: Map<string, number>;
  /** Runs answering right now. */
  inFlight(): number;
  /** Most runs in progress at once. */
  maxInFlight: number;
  /** Runs started in total. */
  total(): number;
  close(): Promise<void>;
}

/**
 * Starts the webhook on 127.0.0.1 (ephemeral port).
 *
 * @example Usage
 * ```ts ignore
 * const agent = startCountingAgent({ delayMs: 50 });
 * await agent.close();
 * ```
 */
export function startCountingAgent(options: { delayMs?: number } = {}): CountingAgent {
  const delayMs = options.delayMs ?? 50;
  const runs = new Map<string, number>();
  let current = 0;
  /** Pending answers: closing the agent answers them at once. */
  const waiting = new Set<() => void>();
  const state = {
    url: "",
    runs,
    inFlight: () => current,
    maxInFlight: 0,
    total: () => [...runs.values()].reduce((a, b) => a + b, 0),
    close: async () => {
      for (const answer of [...waiting]) answer();
      await server.shutdown();
    },
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const payload = await request.json() as { job_id: string; text: string };
    runs.set(payload.job_id, (runs.get(payload.job_id) ?? 0) + 1);
    current++;
    state.maxInFlight = Math.max(state.maxInFlight, current);
    try {
      await new Promise<void>((resolve) => {
        const answer = () => {
          clearTimeout(timer);
          waiting.delete(answer);
          resolve();
        };
        const timer = setTimeout(answer, delayMs);
        waiting.add(answer);
      });
      return new Response(payload.text, { headers: { "content-type": "text/plain" } });
    } finally {
      current--;
    }
  });
  state.url = `http://127.0.0.1:${server.addr.port}/agent`;
  return state;
}

/**
 * A pool of Web Workers that run agent backends.
 *
 * - Workers start lazily (about 90 ms and 15 MB each) and are reused; at most
 *   `size` runs are in flight, the rest wait in FIFO order. A worker idle for
 *   `idleMs` (default `config.workerIdleMs`, else 60 s; 0 = never) is
 *   terminated to free its memory, and started again when work comes.
 * - Each run gets the agent settings by structured clone, so a worker holds no
 *   state between runs.
 * - Timeout: the run rejects with {@linkcode AgentTimeoutError} at once; the
 *   worker is told to cancel (so a command backend can kill its process
 *   group), then terminated and replaced: a stuck backend can't be trusted.
 * - Abort via `signal`: {@linkcode AgentCancelledError} at once; the worker is
 *   told to cancel and kept if it answers within `cancelGraceMs`, otherwise
 *   terminated.
 * - Crash (an uncaught error reaching the pool, a worker that closed itself or
 *   stopped answering pings for `heartbeatTimeoutMs`): the job it ran rejects
 *   with {@linkcode AgentCrashError} and the worker is replaced. `onerror`
 *   calls `preventDefault()`, so a crashing worker never takes the process down.
 *
 * `terminate()` cannot stop CPU-bound JavaScript: backends must stay
 * I/O-bound, and anything heavy runs as a subprocess (the command backend).
 *
 * @example Usage
 * ```ts ignore
 * import { createAgentPool } from "./pool.ts";
 * const pool = createAgentPool(config.agent);
 * const reply = await pool.run(request, { signal, timeoutMs: 30 * 60_000 });
 * await pool.close();
 * ```
 *
 * @module
 */

import type { AgentConfig } from "../config/types.ts";
import type { AgentReply, AgentRequest } from "../records/agent.ts";
import type { FromWorker, ToWorker } from "./protocol.ts";
import { type LogFields, type LogLevel, write as writeLog } from "../log.ts";
import {
  AgentBackendError,
  AgentCancelledError,
  AgentCrashError,
  AgentPoolClosedError,
  AgentTimeoutError,
} from "../records/agent_error.ts";
import { formatDuration } from "../text/format.ts";

/** Settings of {@linkcode createAgentPool}; all optional. */
export interface AgentPoolOptions {
  /** Most runs at once (default `config.workers`). */
  size?: number;
  /** The worker module (default `./worker.ts`); tests pass their own. */
  workerUrl?: URL;
  /** How long a cancelled or timed-out run may take to wind down before its worker is terminated (default 5000 ms). */
  cancelGraceMs?: number;
  /** Interval of liveness pings to busy workers (default 5000 ms). */
  heartbeatMs?: number;
  /** A busy worker silent this long is treated as crashed (default 30000 ms). */
  heartbeatTimeoutMs?: number;
  /** A worker without a run this long is terminated (default `config.workerIdleMs`, else 60000 ms; 0 = never). */
  idleMs?: number;
  /** Where log lines go (default `src/log.ts`). Never receives message bodies or secrets. */
  log?: (level: LogLevel, message: string, fields: LogFields) => void;
}

/** Per-run options of {@linkcode AgentPool.run}. */
export interface AgentRunOptions {
  /** Aborting it cancels the run with {@linkcode AgentCancelledError}. */
  signal?: AbortSignal;
  /** Per-run timeout, counted from the start on a worker (default `config.timeoutMs`; 0 = none). */
  timeoutMs?: number;
}

/** A snapshot of the pool, for `/metrics` and logs. */
export interface AgentPoolStats {
  /** Most runs at once. */
  size: number;
  /** Workers with a run (including runs winding down after a timeout or cancel). */
  busy: number;
  /** Started workers waiting for work. */
  idle: number;
  /** Runs waiting for a worker. */
  queued: number;
  /** Workers started since the pool was created. */
  started: number;
  /** Workers that crashed since the pool was created. */
  crashed: number;
  /** Workers terminated after being idle for the pool's idle time. */
  retiredIdle: number;
}

/** Runs agent requests on a bounded set of Web Workers. */
export interface AgentPool {
  /** Runs one request; rejects with an `AgentError` subclass on failure. */
  run(request: AgentRequest, options?: AgentRunOptions): Promise<AgentReply>;
  /** Rejects waiting and running runs with `AgentPoolClosedError`, lets runs wind down (up to `cancelGraceMs`) and terminates every worker. */
  close(): Promise<void>;
  /** Current counts. */
  stats(): AgentPoolStats;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

interface Task {
  runId: string;
  request: AgentRequest;
  timeoutMs: number;
  signal?: AbortSignal;
  resolve: (reply: AgentReply) => void;
  reject: (error: Error) => void;
  settled: boolean;
  onAbort?: () => void;
  timer?: ReturnType<typeof setTimeout>;
}

interface Slot {
  name: string;
  worker: Worker;
  /** The run this worker works on; stays set after a timeout/cancel until the worker answers. */
  task?: Task;
  /** Terminate instead of reuse once the current run ends. */
  retireWhenDone: boolean;
  graceTimer?: ReturnType<typeof setTimeout>;
  /** Set while the worker waits for work: it is terminated when this fires. */
  idleTimer?: ReturnType<typeof setTimeout>;
  lastSeen: number;
  dead: boolean;
}

/**
 * Creates a pool running `config.kind`'s backend with `config`'s settings.
 *
 * @example Usage
 * ```ts ignore
 * import { createAgentPool } from "./pool.ts";
 * const pool = createAgentPool({ ...config.agent, kind: "echo" }, { size: 2 });
 * const reply = await pool.run(request);
 * console.log(reply.text, pool.stats());
 * await pool.close();
 * ```
 */
export function createAgentPool(config: AgentConfig, options: AgentPoolOptions = {}): AgentPool {
  const size = options.size ?? config.workers ?? 1;
  if (!Number.isInteger(size) || size < 1) {
    throw new Error(
      `Cannot create the agent pool as 'size' must be a positive integer: current value is ${size}. ` +
        "Set agent.workers in config.yaml.",
    );
  }
  const workerUrl = options.workerUrl ?? new URL("./worker.ts", import.meta.url);
  const cancelGraceMs = options.cancelGraceMs ?? 5000;
  const heartbeatMs = options.heartbeatMs ?? 5000;
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 30_000;
  const idleMs = options.idleMs ?? config.workerIdleMs ?? 60_000;
  const log = options.log ?? writeLog;

  const queue: Task[] = [];
  const slots: Slot[] = [];
  let started = 0;
  let crashed = 0;
  let retiredIdle = 0;
  let runCounter = 0;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;
  let whenEmpty: (() => void) | undefined;

  function settle(task: Task, outcome: { reply: AgentReply } | { error: Error }): void {
    if (task.settled) return;
    task.settled = true;
    clearTimeout(task.timer);
    if (task.onAbort) task.signal?.removeEventListener("abort", task.onAbort);
    if ("reply" in outcome) task.resolve(outcome.reply);
    else task.reject(outcome.error);
  }

  function post(slot: Slot, message: ToWorker): void {
    try {
      slot.worker.postMessage(message);
    } catch {
      // a terminated worker: the heartbeat or grace timer deals with it
    }
  }

  function startWorker(): Slot {
    const name = `agent-${started + 1}`;
    const worker = new Worker(workerUrl, { type: "module", name });
    started++;
    const slot: Slot = { name, worker, retireWhenDone: false, lastSeen: Date.now(), dead: false };
    worker.onmessage = (event: MessageEvent<FromWorker>) => onMessage(slot, event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      crash(slot, event.message || "uncaught error in the worker");
    };
    worker.onmessageerror = () => crash(slot, "a message from the worker could not be read");
    slots.push(slot);
    return slot;
  }

  function pump(): void {
    while (!closed && queue.length > 0) {
      let slot = slots.find((candidate) => !candidate.task && !candidate.dead);
      if (!slot) {
        if (slots.length >= size) return;
        try {
          slot = startWorker();
        } catch (error) {
          const task = queue.shift()!;
          crashed++;
          settle(task, {
            error: new AgentCrashError(task.request.jobId, `cannot start a worker: ${error}`),
          });
          continue;
        }
      }
      assign(slot, queue.shift()!);
    }
  }

  function assign(slot: Slot, task: Task): void {
    clearTimeout(slot.idleTimer);
    slot.idleTimer = undefined;
    slot.task = task;
    slot.lastSeen = Date.now();
    try {
      slot.worker.postMessage(
        { type: "run", id: task.runId, request: task.request, config } satisfies ToWorker,
      );
    } catch (error) {
      slot.task = undefined;
      settle(task, {
        error: new AgentBackendError(
          task.request.jobId,
          `the request could not be passed to the agent: ${(error as Error).message}`,
        ),
      });
      return;
    }
    if (task.timeoutMs > 0 && Number.isFinite(task.timeoutMs)) {
      task.timer = setTimeout(() => onTimeout(slot, task), Math.min(task.timeoutMs, MAX_TIMER_MS));
    }
    if (heartbeat === undefined && heartbeatMs > 0) heartbeat = setInterval(tick, heartbeatMs);
  }

  function onMessage(slot: Slot, message: FromWorker): void {
    if (slot.dead) return;
    slot.lastSeen = Date.now();
    if (message?.type === "pong") return;
    const task = slot.task;
    if (!task || message?.id !== task.runId) return;
    if (message.type === "reply") {
      settle(task, { reply: message.reply });
    } else {
      settle(task, { error: new AgentBackendError(task.request.jobId, message.message) });
    }
    slot.task = undefined;
    clearTimeout(slot.graceTimer);
    slot.graceTimer = undefined;
    if (slot.retireWhenDone || closed) retire(slot);
    else {
      pump();
      if (!slot.task) waitIdle(slot);
    }
  }

  /** Terminates `slot` if it gets no work within `idleMs`; `pump` starts a new one on demand. */
  function waitIdle(slot: Slot): void {
    if (idleMs <= 0 || !Number.isFinite(idleMs) || slot.dead) return;
    clearTimeout(slot.idleTimer);
    slot.idleTimer = setTimeout(() => {
      slot.idleTimer = undefined;
      if (slot.task || slot.dead || closed) return;
      retiredIdle++;
      retire(slot);
    }, Math.min(idleMs, MAX_TIMER_MS));
  }

  function onTimeout(slot: Slot, task: Task): void {
    if (task.settled || slot.task !== task) return;
    log("warn", "agent run timed out; replacing its worker", {
      jobId: task.request.jobId,
      worker: slot.name,
      timeoutMs: task.timeoutMs,
    });
    settle(task, { error: new AgentTimeoutError(task.request.jobId, task.timeoutMs) });
    windDown(slot, true);
  }

  function onAbort(task: Task): void {
    if (task.settled) return;
    settle(task, { error: new AgentCancelledError(task.request.jobId) });
    const queued = queue.indexOf(task);
    if (queued >= 0) {
      queue.splice(queued, 1);
      return;
    }
    const slot = slots.find((candidate) => candidate.task === task);
    if (slot) windDown(slot, false);
  }

  /** Tells the worker to cancel its run; terminates it when it does not answer within the grace. */
  function windDown(slot: Slot, retireAfter: boolean): void {
    slot.retireWhenDone ||= retireAfter;
    const task = slot.task;
    if (task) post(slot, { type: "cancel", id: task.runId });
    if (slot.graceTimer !== undefined) return;
    slot.graceTimer = setTimeout(() => {
      slot.graceTimer = undefined;
      if (slot.task === task && !slot.dead) {
        log("warn", "agent worker did not stop in time; terminating it", {
          jobId: task?.request.jobId,
          worker: slot.name,
          graceMs: cancelGraceMs,
        });
        retire(slot);
      }
    }, cancelGraceMs);
  }

  function crash(slot: Slot, detail: string): void {
    if (slot.dead) return;
    crashed++;
    const task = slot.task;
    log("error", "agent worker crashed; replacing it", {
      jobId: task?.request.jobId,
      worker: slot.name,
      detail,
    });
    if (task) settle(task, { error: new AgentCrashError(task.request.jobId, detail) });
    retire(slot);
  }

  function retire(slot: Slot): void {
    if (slot.dead) return;
    slot.dead = true;
    clearTimeout(slot.graceTimer);
    clearTimeout(slot.idleTimer);
    slot.worker.terminate();
    slots.splice(slots.indexOf(slot), 1);
    const task = slot.task;
    slot.task = undefined;
    if (task && !task.settled) {
      settle(task, {
        error: closed
          ? new AgentPoolClosedError(task.request.jobId)
          : new AgentCrashError(task.request.jobId, "the worker was terminated"),
      });
    }
    if (!slots.some((candidate) => candidate.task)) stopHeartbeat();
    if (closed && slots.length === 0) whenEmpty?.();
    pump();
  }

  function stopHeartbeat(): void {
    clearInterval(heartbeat);
    heartbeat = undefined;
  }

  function tick(): void {
    const now = Date.now();
    for (const slot of [...slots]) {
      if (!slot.task || slot.dead) continue;
      if (now - slot.lastSeen > heartbeatTimeoutMs) {
        crash(slot, `the worker stopped answering for ${formatDuration(now - slot.lastSeen)}`);
      } else {
        post(slot, { type: "ping" });
      }
    }
    if (!slots.some((candidate) => candidate.task)) stopHeartbeat();
  }

  function run(request: AgentRequest, runOptions: AgentRunOptions = {}): Promise<AgentReply> {
    const jobId = request?.jobId ?? "";
    if (closed) return Promise.reject(new AgentPoolClosedError(jobId));
    const signal = runOptions.signal;
    if (signal?.aborted) return Promise.reject(new AgentCancelledError(jobId));
    return new Promise<AgentReply>((resolve, reject) => {
      const task: Task = {
        runId: `${jobId}#${++runCounter}`,
        request,
        timeoutMs: runOptions.timeoutMs ?? config.timeoutMs ?? 0,
        signal,
        resolve,
        reject,
        settled: false,
      };
      if (signal) {
        task.onAbort = () => onAbort(task);
        signal.addEventListener("abort", task.onAbort, { once: true });
      }
      queue.push(task);
      pump();
    });
  }

  function close(): Promise<void> {
    if (closing) return closing;
    closed = true;
    for (const task of queue.splice(0)) {
      settle(task, { error: new AgentPoolClosedError(task.request.jobId) });
    }
    closing = new Promise<void>((resolve) => {
      whenEmpty = resolve;
      for (const slot of [...slots]) {
        const task = slot.task;
        if (!task) {
          retire(slot);
          continue;
        }
        settle(task, { error: new AgentPoolClosedError(task.request.jobId) });
        windDown(slot, true);
      }
      if (slots.length === 0) resolve();
    }).then(stopHeartbeat);
    return closing;
  }

  function stats(): AgentPoolStats {
    const busy = slots.filter((slot) => slot.task).length;
    return {
      size,
      busy,
      idle: slots.length - busy,
      queued: queue.length,
      started,
      crashed,
      retiredIdle,
    };
  }

  return { run, close, stats };
}

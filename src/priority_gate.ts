/**
 * Callbacks first on the JavaScript thread: background work (the job runner's
 * claim rounds, delivery's steps) waits while urgent work (a callback being
 * answered) is in progress, and goes at the next pause; without a pause, one
 * piece every `trickleMs`. So WeCom's acknowledgements do not queue behind
 * replies, and replies slow down under a flood of callbacks but never stop.
 *
 * The KV committer has the same rule for commits (`group.background` of
 * `store/group_commit.ts`); this gate spaces out the work between commits,
 * which costs the thread several times an acknowledgement per reply.
 *
 * @example Usage
 * ```ts
 * import { createPriorityGate } from "./priority_gate.ts";
 * const gate = createPriorityGate({ trickleMs: 50 });
 * const done = gate.urgent(); // a callback begins
 * const waiting = gate.idle(); // background work waits…
 * done(); // …until the callback is answered
 * await waiting;
 * console.assert(gate.stats().waits === 1);
 * ```
 *
 * @module
 */

/** Options of {@linkcode createPriorityGate}. */
export interface PriorityGateOptions {
  /**
   * While callbacks keep arriving without a pause, one waiting piece of
   * background work goes every `trickleMs` (default 20 ms), oldest first, so
   * that replies slow down under a flood of callbacks but never stop.
   */
  trickleMs?: number;
}

/** Counts since the gate was made. */
export interface PriorityGateStats {
  /** `idle()` calls that had to wait for urgent work. */
  waits: number;
  /** Of those, the ones let through by the trickle, urgent work still in progress. */
  trickled: number;
}

/** Urgent work marks itself; background work waits for a pause in it. */
export interface PriorityGate {
  /** Marks urgent work as begun; call the returned function (once) when it ends. */
  urgent(): () => void;
  /**
   * Resolves at once when no urgent work is in progress; otherwise at the
   * next pause in it, or at its turn of the trickle, whichever comes first.
   */
  idle(): Promise<void>;
  stats(): PriorityGateStats;
}

/**
 * Makes a gate.
 *
 * @throws {RangeError} When `trickleMs` is not a positive number.
 */
export function createPriorityGate(options: PriorityGateOptions = {}): PriorityGate {
  const trickleMs = options.trickleMs ?? 20;
  if (!Number.isFinite(trickleMs) || trickleMs <= 0) {
    throw new RangeError(
      `Cannot create the priority gate as 'trickleMs' must be a positive number: current value is ${trickleMs}`,
    );
  }
  let active = 0;
  const waiting: (() => void)[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stats: PriorityGateStats = { waits: 0, trickled: 0 };

  const trickle = () => {
    timer = undefined;
    const next = waiting.shift();
    if (next === undefined) return;
    stats.trickled++;
    next();
    if (waiting.length > 0) timer = setTimeout(trickle, trickleMs);
  };

  const releaseAll = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    for (const next of waiting.splice(0)) next();
  };

  return {
    urgent() {
      active++;
      let ended = false;
      return () => {
        if (ended) return;
        ended = true;
        active--;
        if (active === 0) releaseAll();
      };
    },
    idle() {
      if (active === 0) return Promise.resolve();
      stats.waits++;
      return new Promise((resolve) => {
        waiting.push(resolve);
        timer ??= setTimeout(trickle, trickleMs);
      });
    },
    stats: () => ({ ...stats }),
  };
}

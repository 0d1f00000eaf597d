/**
 * Group commit: atomic operations from concurrent callers combined into one KV
 * commit, each caller answered only once the commit holding its operation is
 * durable.
 *
 * One commit per callback on a SQLite KV file tops out near 1,600 callbacks/s
 * on two cores; combining the commits of concurrent callbacks cuts the cost
 * of each several-fold (see docs/BENCHMARKS.md). There is no timer: the first
 * operation is committed at once (after the current microtask), and the
 * operations that arrive while a commit is in flight go together into the
 * next one. A lone caller therefore waits for nothing more than its own commit.
 *
 * A caller builds its operation exactly as it would for `kv.atomic()`; the
 * builder is recorded and replayed, so the group knows each member's checks,
 * mutations and estimated size and keeps every group within Deno KV's limits
 * (≤ 100 checks, ≤ 1000 mutations, ≤ 800 KiB of mutations, ≤ 80 KiB of keys).
 * Members that touch a key another member checks never share a group: two
 * concurrent copies of one message would otherwise both pass their check.
 *
 * Two lanes share the committer. Operations through the group itself are
 * urgent (the intake: WeCom waits for their acknowledgement and retries after
 * 5 s). Operations through `group.background` (the job pipeline) wait while
 * urgent ones are queued, and during a burst also for `urgentGraceMs` after a
 * commit of urgent ones (default 3 ms: the next callbacks of busy senders are
 * on their way); a burst is a commit that held {@linkcode BURST_MEMBERS} or more
 * urgent operations, i.e. callbacks arrive faster than a commit takes. Each
 * waits at most `backgroundWaitMs` (default 100 ms). Under a burst of callbacks
 * the pipeline slows down instead of the acknowledgements, and it catches up
 * once the burst is over; with callbacks arriving at a few hundred per
 * second the committer is mostly idle and the pipeline hardly waits.
 *
 * Each member gets the same result as if it had committed alone:
 * - the group committed: every member gets its `{ ok: true, versionstamp }`;
 * - a check failed (`ok: false`): the group does not say whose, so every
 *   member is committed again on its own and gets its own result, and a
 *   duplicate is still detected exactly;
 * - the commit threw (KV unavailable, or a limit the store enforces that the
 *   estimate missed): every member is committed again on its own, and each one
 *   that fails again rejects with the error (the callback then answers 503).
 *   A limit error also halves the group size, which then grows back by one per
 *   full group that commits.
 *
 * @example Usage
 * ```ts
 * import { createGroupCommit } from "./group_commit.ts";
 * const kv = await Deno.openKv(":memory:");
 * const group = createGroupCommit(kv);
 * const results = await Promise.all(["a", "b", "c"].map((id) =>
 *   group((op) => op.check({ key: ["seen", id], versionstamp: null }).set(["seen", id], true))
 * ));
 * console.assert(results.every((r) => r.ok) && group.stats().commits === 1);
 * kv.close();
 * ```
 *
 * @module
 */

import { commit as commitWithRetry } from "./kv.ts";

/**
 * Urgent operations in one commit that make it a burst: `background` ones then
 * also wait `urgentGraceMs` after it.
 */
export const BURST_MEMBERS = 4;

/** Adds checks and mutations to `op` (and returns it), as for `kv.atomic()`. */
export type AtomicBuilder = (op: Deno.AtomicOperation) => Deno.AtomicOperation;

/**
 * Commits the atomic operation `build` fills in. The one commit type every
 * writer takes: {@linkcode directCommit} (a commit of its own, lock errors
 * retried) or a {@linkcode GroupCommit} (shares one durable KV commit with
 * concurrent operations; each keeps its own checks and gets the result it
 * would get alone).
 */
export type Commit = (build: AtomicBuilder) => Promise<Deno.KvCommitResult | Deno.KvCommitError>;

/**
 * The default {@linkcode Commit}: one commit of its own over `kv.atomic()`, lock errors retried.
 *
 * @example Usage
 * ```ts
 * import { directCommit } from "./group_commit.ts";
 * const kv = await Deno.openKv(":memory:");
 * const result = await directCommit(kv)((op) => op.set(["a"], 1));
 * console.assert(result.ok);
 * kv.close();
 * ```
 */
export function directCommit(kv: Deno.Kv): Commit {
  return (build) => commitWithRetry(() => build(kv.atomic()));
}

/** Options of {@linkcode createGroupCommit}; the defaults stay below Deno KV's limits. */
export interface GroupCommitOptions {
  /** Most operations in one commit (default 100). */
  maxMembers?: number;
  /** Most checks in one commit (default 100, Deno KV's limit; 10 over KV Connect). */
  maxChecks?: number;
  /** Most mutations in one commit (default 1000, Deno KV's limit). */
  maxMutations?: number;
  /** Estimated bytes of keys and values of one commit (default 640 KiB; the limit is 800 KiB). */
  maxMutationBytes?: number;
  /** Estimated bytes of all keys of one commit (default 64 KiB; the limit is 80 KiB). */
  maxKeyBytes?: number;
  /** Commits in flight at once (default 1: the next group forms while one commits). */
  maxInFlight?: number;
  /** Longest a `background` operation waits while urgent ones are queued, ms (default 100). */
  backgroundWaitMs?: number;
  /** How long after a burst's commit `background` operations still wait, ms (default 3). */
  urgentGraceMs?: number;
  /** Clock of `backgroundWaitMs` (default `performance.now`). */
  now?: () => number;
  /** Commits an operation, retrying lock errors (default `commit` of src/store/kv.ts). */
  commit?: (
    build: () => Deno.AtomicOperation,
  ) => Promise<Deno.KvCommitResult | Deno.KvCommitError>;
}

/** Counters of a group committer, for tests and metrics. */
export interface GroupCommitStats {
  /** Commits attempted, grouped or single (fallbacks included). */
  commits: number;
  /** Operations submitted. */
  members: number;
  /** Groups of two or more that had to be committed member by member. */
  fallbacks: number;
  /** The most members committed together so far. */
  largestGroup: number;
  /** The current member cap (lower than `maxMembers` after a limit error). */
  cap: number;
  /** Operations submitted through `background`. */
  backgroundMembers: number;
  /** Background operations that went out because they had waited `backgroundWaitMs`. */
  backgroundAged: number;
  /** Milliseconds with a commit in flight (the committer's busy time). */
  busyMs: number;
}

/** Commits one operation together with concurrent ones; see the module doc. */
export interface GroupCommit {
  /** Commits an urgent operation (the intake's). */
  (build: AtomicBuilder): Promise<Deno.KvCommitResult | Deno.KvCommitError>;
  /** Commits an operation that yields to urgent ones (the job pipeline's); see the module doc. */
  background: Commit;
  stats(): GroupCommitStats;
}

/** One recorded call; `writes` are the ids of the keys it writes, `overwrites` for set/delete. */
type Call = { method: string; args: unknown[]; writes?: string[]; overwrites?: boolean };

interface Member {
  calls: Call[];
  checkKeys: string[];
  writeKeys: string[];
  checks: number;
  mutations: number;
  bytes: number;
  keyBytes: number;
  resolve: (result: Deno.KvCommitResult | Deno.KvCommitError) => void;
  reject: (error: unknown) => void;
  /** Submitted through `background`, at `queuedAt` (`now()`). */
  background: boolean;
  queuedAt: number;
}

const NON_ASCII = /[\u0080-\uffff]/;
const NON_LATIN1 = /[\u0100-\uffff]/;

function keyPartId(part: Deno.KvKeyPart): string {
  if (typeof part === "string") return "s" + JSON.stringify(part);
  if (part instanceof Uint8Array) return "u" + part.join(",");
  return typeof part + String(part);
}

/** A string that identifies `key` exactly (a fast form for the usual all-string keys). */
function keyId(key: Deno.KvKey): string {
  let fast = "\u0001";
  for (const part of key) {
    if (typeof part !== "string" || part.includes("\u0000")) {
      return "\u0002" + key.map(keyPartId).join("/");
    }
    fast += part + "\u0000";
  }
  return fast;
}

/** Upper estimate of the encoded size of `key` in bytes. */
function keyBytes(key: Deno.KvKey): number {
  let bytes = 0;
  for (const part of key) {
    if (typeof part === "string") {
      bytes += 2 + (NON_ASCII.test(part) ? 3 * part.length : part.length);
    } else if (part instanceof Uint8Array) bytes += 2 + 2 * part.length;
    else bytes += 10;
  }
  return bytes;
}

/**
 * Upper estimate of the V8-serialized size of `value` in bytes, the size Deno
 * KV counts against its limits.
 *
 * @example Usage
 * ```ts
 * import { estimateValueBytes } from "./group_commit.ts";
 * console.assert(estimateValueBytes({ text: "字".repeat(100) }) >= 200);
 * ```
 */
export function estimateValueBytes(value: unknown, depth = 0): number {
  if (typeof value === "string") {
    return 8 + (NON_LATIN1.test(value) ? 2 * value.length : value.length);
  }
  if (typeof value === "bigint") {
    return 10 + 8 * Math.ceil((value < 0n ? -value : value).toString(16).length / 16);
  }
  if (value === null || typeof value !== "object") return 10;
  if (depth > 32) return 1024;
  if (ArrayBuffer.isView(value)) return 16 + value.byteLength;
  if (value instanceof ArrayBuffer) return 16 + value.byteLength;
  if (typeof Deno.KvU64 === "function" && value instanceof Deno.KvU64) return 10;
  let bytes = 8;
  if (value instanceof Map) {
    for (const [k, v] of value) {
      bytes += estimateValueBytes(k, depth + 1) + estimateValueBytes(v, depth + 1);
    }
    return bytes;
  }
  if (value instanceof Set) {
    for (const v of value) bytes += estimateValueBytes(v, depth + 1);
    return bytes;
  }
  if (Array.isArray(value)) {
    for (const v of value) bytes += estimateValueBytes(v, depth + 1);
    return bytes;
  }
  const object = value as Record<string, unknown>;
  for (const k in object) {
    if (Object.hasOwn(object, k)) {
      bytes += estimateValueBytes(k, depth + 1) + estimateValueBytes(object[k], depth + 1);
    }
  }
  return bytes;
}

/** Runs `build` on a recorder: the calls to replay, the keys touched and the size. */
/** What recording a builder yields: a member before it is queued. */
type Recorded = Omit<Member, "resolve" | "reject" | "background" | "queuedAt">;

function record(build: AtomicBuilder): Recorded {
  const member: Recorded = {
    calls: [],
    checkKeys: [],
    writeKeys: [],
    checks: 0,
    mutations: 0,
    bytes: 0,
    keyBytes: 0,
  };
  const write = (key: Deno.KvKey, valueBytes: number): string => {
    const id = keyId(key);
    member.mutations++;
    member.writeKeys.push(id);
    const size = keyBytes(key);
    member.keyBytes += size;
    member.bytes += size + valueBytes;
    return id;
  };
  const counter = (method: "sum" | "min" | "max") => (key: Deno.KvKey, n: bigint) => {
    member.calls.push({ method, args: [key, n], writes: [write(key, 10)] });
    return recorder;
  };
  const recorder = {
    check(...checks: Deno.AtomicCheck[]) {
      member.calls.push({ method: "check", args: checks });
      for (const check of checks) {
        member.checks++;
        member.checkKeys.push(keyId(check.key));
        member.keyBytes += keyBytes(check.key);
      }
      return recorder;
    },
    mutate(...mutations: Deno.KvMutation[]) {
      const writes = mutations.map((m) =>
        write(m.key, "value" in m ? estimateValueBytes(m.value) : 0)
      );
      member.calls.push({ method: "mutate", args: mutations, writes });
      return recorder;
    },
    set(key: Deno.KvKey, value: unknown, options?: { expireIn?: number }) {
      const writes = [write(key, estimateValueBytes(value))];
      member.calls.push({ method: "set", args: [key, value, options], writes, overwrites: true });
      return recorder;
    },
    delete(key: Deno.KvKey) {
      member.calls.push({
        method: "delete",
        args: [key],
        writes: [write(key, 0)],
        overwrites: true,
      });
      return recorder;
    },
    sum: counter("sum"),
    min: counter("min"),
    max: counter("max"),
    enqueue(value: unknown, options?: unknown) {
      member.calls.push({ method: "enqueue", args: [value, options] });
      member.mutations++;
      member.bytes += estimateValueBytes(value);
      return recorder;
    },
    commit(): never {
      throw new Error(
        "Cannot commit inside a group-commit builder: return the operation and let the group commit it.",
      );
    },
  };
  build(recorder as unknown as Deno.AtomicOperation);
  return member;
}

/**
 * Replays the members' calls onto `op`. A set or delete that a later set or
 * delete of the same key in the group overwrites is dropped (as in a
 * sequence of commits, only the last write remains): a key every member
 * writes, such as a wake-up, costs one row write per group, not one per member.
 */
function replay(op: Deno.AtomicOperation, members: Member[]): Deno.AtomicOperation {
  const target = op as unknown as Record<string, (...args: unknown[]) => unknown>;
  const calls = members.length === 1 ? members[0].calls : members.flatMap((m) => m.calls);
  let dead: Set<Call> | undefined;
  if (members.length > 1) {
    const overwritten = new Set<string>();
    for (let i = calls.length - 1; i >= 0; i--) {
      const call = calls[i];
      if (!call.writes) continue;
      if (call.overwrites) {
        const id = call.writes[0];
        if (overwritten.has(id)) (dead ??= new Set()).add(call);
        else overwritten.add(id);
      } else {
        // sum/min/max/mutate read what was there before: earlier writes stay.
        for (const id of call.writes) overwritten.delete(id);
      }
    }
  }
  for (const call of calls) {
    if (!dead?.has(call)) target[call.method](...call.args);
  }
  return op;
}

function isLimitError(error: unknown): boolean {
  return /too (many|large)/i.test(error instanceof Error ? error.message : String(error));
}

function nonNegativeOption(name: string, value: number): number {
  if (!(value >= 0)) {
    throw new RangeError(
      `Cannot create the group commit as '${name}' must be a non-negative number: ` +
        `current value is ${value}`,
    );
  }
  return value;
}

function positiveOption(name: string, value: number): number {
  if (!(value >= 1)) {
    throw new RangeError(
      `Cannot create the group commit as '${name}' must be at least 1: current value is ${value}`,
    );
  }
  return value;
}

/**
 * Returns a function that commits atomic operations built by concurrent
 * callers in groups (see the module doc).
 *
 * @example Usage
 * ```ts
 * import { createGroupCommit } from "./group_commit.ts";
 * const kv = await Deno.openKv(":memory:");
 * const group = createGroupCommit(kv, { maxMembers: 50 });
 * const result = await group((op) => op.set(["greeting"], "hi"));
 * console.assert(result.ok);
 * kv.close();
 * ```
 */
export function createGroupCommit(kv: Deno.Kv, options: GroupCommitOptions = {}): GroupCommit {
  const maxMembers = positiveOption("maxMembers", options.maxMembers ?? 100);
  const maxChecks = positiveOption("maxChecks", options.maxChecks ?? 100);
  const maxMutations = positiveOption("maxMutations", options.maxMutations ?? 1000);
  const maxMutationBytes = positiveOption(
    "maxMutationBytes",
    options.maxMutationBytes ?? 640 * 1024,
  );
  const maxKeyBytes = positiveOption("maxKeyBytes", options.maxKeyBytes ?? 64 * 1024);
  const maxInFlight = positiveOption("maxInFlight", options.maxInFlight ?? 1);
  const backgroundWaitMs = nonNegativeOption("backgroundWaitMs", options.backgroundWaitMs ?? 100);
  const urgentGraceMs = nonNegativeOption("urgentGraceMs", options.urgentGraceMs ?? 3);
  const now = options.now ?? (() => performance.now());
  const commitOp = options.commit ?? commitWithRetry;

  const queue: Member[] = [];
  /** Urgent members in `queue`: while there are any, background members wait (up to their limit). */
  let urgentQueued = 0;
  let inFlight = 0;
  let scheduled = false;
  let cap = maxMembers;
  const stats = {
    commits: 0,
    members: 0,
    fallbacks: 0,
    largestGroup: 0,
    backgroundMembers: 0,
    backgroundAged: 0,
    busyMs: 0,
  };
  let busySince = 0;
  /** When the last commit of a burst of urgent operations ended (`now()`). */
  let urgentDoneAt = -Infinity;
  /** Wakes the committer when only background operations wait and the grace ends. */
  let graceTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Takes the next group off the queue: in order, skipping members that
   * conflict, and background members while urgent ones wait (unless they have
   * waited `backgroundWaitMs`).
   */
  const take = (): Member[] => {
    const group: Member[] = [];
    const checked = new Set<string>();
    const written = new Set<string>();
    let checks = 0, mutations = 0, bytes = 0, keyBytesTotal = 0;
    const at = now();
    const yielding = urgentQueued > 0 || at - urgentDoneAt < urgentGraceMs;
    const agedBefore = at - backgroundWaitMs;
    let i = 0;
    while (i < queue.length && group.length < cap) {
      const m = queue[i];
      const aged = m.background && yielding && m.queuedAt <= agedBefore;
      if (m.background && yielding && !aged) {
        i++; // waits for the urgent ones
        continue;
      }
      const fits = group.length === 0 || (
        checks + m.checks <= maxChecks && mutations + m.mutations <= maxMutations &&
        bytes + m.bytes <= maxMutationBytes && keyBytesTotal + m.keyBytes <= maxKeyBytes
      );
      if (!fits) break;
      const conflicts = m.checkKeys.some((k) => checked.has(k) || written.has(k)) ||
        m.writeKeys.some((k) => checked.has(k));
      if (conflicts) {
        i++; // stays queued for a later group
        continue;
      }
      queue.splice(i, 1);
      if (!m.background) urgentQueued--;
      else if (aged) stats.backgroundAged++;
      group.push(m);
      for (const k of m.checkKeys) checked.add(k);
      for (const k of m.writeKeys) written.add(k);
      checks += m.checks;
      mutations += m.mutations;
      bytes += m.bytes;
      keyBytesTotal += m.keyBytes;
    }
    return group;
  };

  const single = async (member: Member) => {
    stats.commits++;
    try {
      member.resolve(await commitOp(() => replay(kv.atomic(), [member])));
    } catch (error) {
      member.reject(error);
    }
  };

  const run = async (group: Member[]) => {
    stats.largestGroup = Math.max(stats.largestGroup, group.length);
    if (group.length === 1) return await single(group[0]);
    stats.commits++;
    let result: Deno.KvCommitResult | Deno.KvCommitError;
    try {
      result = await commitOp(() => replay(kv.atomic(), group));
    } catch (error) {
      if (isLimitError(error)) cap = Math.max(1, Math.floor(group.length / 2));
      stats.fallbacks++;
      await Promise.all(group.map(single));
      return;
    }
    if (result.ok) {
      if (group.length >= cap && cap < maxMembers) cap++;
      for (const member of group) member.resolve(result);
      return;
    }
    // Some member's check failed; only committing each alone tells whose.
    stats.fallbacks++;
    await Promise.all(group.map(single));
  };

  const pump = () => {
    scheduled = false;
    while (inFlight < maxInFlight && queue.length > 0) {
      const group = take();
      if (group.length === 0) {
        // Only background operations wait, within the grace of the last urgent commit.
        graceTimer ??= setTimeout(() => {
          graceTimer = undefined;
          schedule();
        }, Math.max(1, urgentDoneAt + urgentGraceMs - now()));
        return;
      }
      const burst = group.filter((m) => !m.background).length >= BURST_MEMBERS;
      if (inFlight++ === 0) busySince = now();
      run(group).finally(() => {
        if (--inFlight === 0) stats.busyMs += now() - busySince;
        if (burst) urgentDoneAt = now();
        schedule();
      });
    }
  };

  const schedule = () => {
    if (scheduled || inFlight >= maxInFlight || queue.length === 0) return;
    scheduled = true;
    queueMicrotask(pump);
  };

  const submit = (build: AtomicBuilder, background: boolean) => {
    let recorded: Recorded;
    try {
      recorded = record(build);
    } catch (error) {
      return Promise.reject(error);
    }
    stats.members++;
    if (background) stats.backgroundMembers++;
    else urgentQueued++;
    return new Promise<Deno.KvCommitResult | Deno.KvCommitError>((resolve, reject) => {
      queue.push({ ...recorded, resolve, reject, background, queuedAt: now() });
      schedule();
    });
  };
  const group = (build: AtomicBuilder) => submit(build, false);
  return Object.assign(group, {
    background: (build: AtomicBuilder) => submit(build, true),
    stats: () => ({
      ...stats,
      busyMs: stats.busyMs + (inFlight > 0 ? now() - busySince : 0),
      cap,
    }),
  });
}

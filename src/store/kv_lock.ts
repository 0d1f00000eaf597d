/**
 * The owner lock of a local KV file: one gateway that serves callbacks (role
 * `all` or `edge`) per file.
 *
 * Several processes may share one SQLite file safely (the job store uses only
 * KV atomics, and `serve --role worker` processes are meant to join), but a
 * second gateway serving callbacks from the same file is almost always a
 * mistake: an old instance still running, or a service and a manual start.
 * The lock is a file beside the KV file (`<kv file>.lock`) holding the owner's
 * pid, created atomically (`createNew`, i.e. O_EXCL); a lock whose pid no
 * longer runs is stale and taken over. It is removed when the gateway stops.
 *
 * @example Usage
 * ```ts
 * import { lockKvFile } from "./kv_lock.ts";
 * const dir = await Deno.makeTempDir();
 * const lock = await lockKvFile(`${dir}/kv.sqlite3`);
 * await lock.release();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

/** Another live process holds the KV file's lock. */
export class KvFileInUseError extends Error {
  /** The KV file. */
  readonly path: string;
  /** The lock file. */
  readonly lockPath: string;
  /** The pid of the process holding it. */
  readonly pid: number;

  constructor(path: string, lockPath: string, pid: number) {
    super(
      `Cannot start wecom-gateway as another gateway (pid ${pid}) already serves callbacks from ` +
        `the KV file ${path}. Stop it first, give this one its own store (WECOM_GATEWAY_KV), or ` +
        `add this process as a worker beside it with 'serve --role worker'. If no such process ` +
        `runs, delete ${lockPath}.`,
    );
    this.name = "KvFileInUseError";
    this.path = path;
    this.lockPath = lockPath;
    this.pid = pid;
  }
}

/** A held lock. */
export interface KvLock {
  readonly lockPath: string;
  /** Removes the lock file (only if it is still ours). */
  release(): Promise<void>;
}

/** True for a path that names a local file (not `:memory:` nor a KV Connect URL). */
export function isLocalKvFile(path: string): boolean {
  return path !== ":memory:" && !/^https?:\/\//.test(path);
}

/** True when a process with `pid` runs on this machine. */
export function processRuns(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === Deno.pid) return true;
  try {
    if (Deno.build.os === "linux") {
      Deno.statSync(`/proc/${pid}`);
      return true;
    }
    // Elsewhere: a signal that a running process ignores; an absent one is an error.
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch (error) {
    // Not allowed to signal it: it exists.
    return error instanceof Deno.errors.PermissionDenied;
  }
}

async function readPid(lockPath: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await Deno.readTextFile(lockPath)).trim(), 10);
    return Number.isInteger(pid) ? pid : undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * Takes the owner lock of the KV file at `path` for this process, or throws
 * {@linkcode KvFileInUseError} naming the live owner. A stale lock (its pid
 * no longer runs, or unreadable) is replaced.
 */
export async function lockKvFile(path: string): Promise<KvLock> {
  const lockPath = `${path}.lock`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const file = await Deno.open(lockPath, { write: true, createNew: true });
      try {
        await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
      } finally {
        file.close();
      }
      return {
        lockPath,
        release: async () => {
          if ((await readPid(lockPath).catch(() => undefined)) !== Deno.pid) return;
          await Deno.remove(lockPath).catch(() => {});
        },
      };
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
    const owner = await readPid(lockPath);
    if (owner !== undefined && processRuns(owner)) {
      throw new KvFileInUseError(path, lockPath, owner);
    }
    // Stale (its owner is gone) or half-written: remove it and try again.
    await Deno.remove(lockPath).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
  throw new Error(`Cannot take the lock ${lockPath}: it keeps reappearing; try again.`);
}

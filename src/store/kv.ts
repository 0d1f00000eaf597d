/**
 * Opening Deno KV and committing to it safely.
 *
 * @module
 */

/** The KV store could not be opened (a folder that cannot be created, a file that is not a store). */
export class KvOpenError extends Error {
  /** The path or URL that was tried. */
  readonly path: string;

  constructor(path: string, cause: unknown) {
    super(
      `Cannot open Deno KV at '${path}': ${(cause as Error)?.message ?? cause}. ` +
        "Set WECOM_GATEWAY_KV to a writable file path, ':memory:' or a KV Connect URL.",
      { cause },
    );
    this.name = "KvOpenError";
    this.path = path;
  }
}

/**
 * Opens the KV store at `path` (a file path, `:memory:` or a KV Connect URL), creating the
 * file's folder; throws {@linkcode KvOpenError} when it cannot.
 */
export async function openStore(path: string): Promise<Deno.Kv> {
  try {
    if (path !== ":memory:" && !/^https?:\/\//.test(path)) {
      const slash = path.lastIndexOf("/");
      if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
    }
    return await Deno.openKv(path);
  } catch (error) {
    throw new KvOpenError(path, error);
  }
}

/** True for the transient SQLite errors that a retry of the same commit can fix. */
export function isTransientKvError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /database is locked|SQLITE_BUSY|busy/i.test(message);
}

/**
 * Commits an atomic operation built by `build`, retrying transient lock errors
 * (a few times, with a short backoff). A failed `check()` is not an error: the
 * result `{ ok: false }` is returned for the caller to decide.
 *
 * @example Usage
 * ```ts
 * import { commit } from "./kv.ts";
 * const kv = await Deno.openKv(":memory:");
 * const result = await commit(() => kv.atomic().set(["a"], 1));
 * console.assert(result.ok);
 * kv.close();
 * ```
 */
export async function commit(
  build: () => Deno.AtomicOperation,
  attempts = 5,
): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
  for (let attempt = 1;; attempt++) {
    try {
      return await build().commit();
    } catch (error) {
      if (attempt >= attempts || !isTransientKvError(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 * 2 ** attempt));
    }
  }
}

/**
 * Notices a KV file deleted or replaced under a running gateway.
 *
 * SQLite keeps writing to the file it opened: once that file is unlinked (or
 * another file is moved over its path), every commit still succeeds, into a
 * file nobody will open again. A gateway acknowledging callbacks into it would
 * lose them at the next start, and answer WeCom's retries twice. So the file's
 * identity (device and inode) is recorded when the store is opened and
 * compared every few seconds; a change or a disappearance is reported once,
 * with the reason, for the gateway to stop acknowledging and exit.
 *
 * Only local files are watched: `:memory:` and KV Connect URLs have no file.
 *
 * @example Usage
 * ```ts ignore
 * import { watchFileIdentity } from "./file_identity.ts";
 * const watch = await watchFileIdentity("./data/kv.sqlite3", {
 *   intervalMs: 2000,
 *   onLost: (reason) => console.error(reason),
 * });
 * watch?.stop();
 * ```
 *
 * @module
 */

/** Options of {@linkcode watchFileIdentity}. */
export interface FileIdentityOptions {
  /** How often to check, ms. */
  intervalMs: number;
  /** Called once when the file vanished or was replaced, with what happened. */
  onLost: (reason: string) => void;
}

/** A running watch. */
export interface FileIdentityWatch {
  /** Why the file was lost, once it was. */
  readonly lost: string | undefined;
  stop(): void;
}

/** True for a KV location that is a local file (not `:memory:`, not a KV Connect URL). */
export function isLocalKvFile(path: string): boolean {
  return path !== "" && path !== ":memory:" && !/^https?:\/\//.test(path);
}

function identity(info: Deno.FileInfo): string {
  return `${info.dev}:${info.ino}`;
}

/**
 * Compares `path`'s device and inode with what they were at the call, every
 * `intervalMs`; undefined when `path` is not a local file or cannot be read
 * (then there is nothing to watch).
 *
 * @example Usage
 * ```ts ignore
 * const watch = await watchFileIdentity(path, { intervalMs: 100, onLost: console.error });
 * ```
 */
export async function watchFileIdentity(
  path: string,
  options: FileIdentityOptions,
): Promise<FileIdentityWatch | undefined> {
  if (!isLocalKvFile(path) || options.intervalMs <= 0) return undefined;
  let initial: string;
  try {
    initial = identity(await Deno.stat(path));
  } catch {
    return undefined;
  }
  let lost: string | undefined;
  let checking = false;
  const timer = setInterval(async () => {
    if (checking || lost) return;
    checking = true;
    let reason: string | undefined;
    try {
      const now = identity(await Deno.stat(path));
      if (now !== initial) {
        reason =
          `the KV file ${path} was replaced by another file (device:inode ${initial} is now ${now})`;
      }
    } catch (error) {
      // Only a missing file is a loss; another error (a permission change) is tried again.
      if (error instanceof Deno.errors.NotFound) reason = `the KV file ${path} was deleted`;
    } finally {
      checking = false;
    }
    if (reason && !lost) {
      lost = reason;
      clearInterval(timer);
      options.onLost(reason);
    }
  }, options.intervalMs);
  Deno.unrefTimer(timer);
  return {
    get lost() {
      return lost;
    },
    stop: () => clearInterval(timer),
  };
}

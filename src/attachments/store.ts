/**
 * The attachment store: a folder holding the files users sent (downloaded
 * from WeCom) and files written for replies, one sub-folder per conversation:
 *
 * ```
 * <dir>/inbound/<corp_id>/<user_id>/<msg_id>.<ext>     what a member sent
 * <dir>/outbound/<corp_id>/<user_id>/<job_id>/<name>   files an agent returned as data
 * ```
 *
 * Files are written whole or not at all (a temporary name, then a rename), so
 * a job run again after a crash finds either the complete file or none.
 * {@linkcode pruneStore} deletes files older than the retention.
 *
 * Outbound attachments are read only from under allowed folders
 * ({@linkcode resolveAllowed}): the configured upload roots, and the
 * conversation's own folders here, never another member's files.
 *
 * @example Usage
 * ```ts ignore
 * import { inboundPath, saveFile } from "./store.ts";
 * const path = inboundPath("/srv/gw/data/media", "ww1", "zhangsan", "1234567", "jpg");
 * await saveFile(path, bytes);
 * ```
 *
 * @module
 */

import { dirname, join, resolve, sep } from "../path.ts";
import type { ReplyAttachment } from "../records/agent.ts";

/** A path segment safe to use as one folder or file name (no `/`, no `..`). */
export function safeSegment(value: string): string {
  const cleaned = value.replace(/[^A-Za-z0-9._@-]/g, "_").slice(0, 128);
  return cleaned === "" || cleaned.startsWith(".") ? `_${cleaned}` : cleaned;
}

/**
 * Where a member's inbound file of message `msgId` is kept.
 *
 * @example Usage
 * ```ts
 * import { inboundPath } from "./store.ts";
 * console.assert(inboundPath("/d", "ww1", "zhang", "42", "jpg") === "/d/inbound/ww1/zhang/42.jpg");
 * ```
 */
export function inboundPath(
  dir: string,
  corpId: string,
  userId: string,
  msgId: string,
  extension: string,
): string {
  return join(
    dir,
    "inbound",
    safeSegment(corpId),
    safeSegment(userId),
    `${safeSegment(msgId)}.${extension}`,
  );
}

/**
 * The folder for files an agent returned as data for job `jobId`.
 *
 * @example Usage
 * ```ts
 * import { outboundDir } from "./store.ts";
 * console.assert(outboundDir("/d", "ww1", "zhang", "j1") === "/d/outbound/ww1/zhang/j1");
 * ```
 */
export function outboundDir(dir: string, corpId: string, userId: string, jobId: string): string {
  return join(dir, "outbound", safeSegment(corpId), safeSegment(userId), safeSegment(jobId));
}

/**
 * The conversation's own folders in the store: its files may be sent back to it.
 *
 * @example Usage
 * ```ts
 * import { conversationRoots } from "./store.ts";
 * console.assert(conversationRoots("/d", "ww1", "zhang").length === 2);
 * ```
 */
export function conversationRoots(dir: string, corpId: string, userId: string): string[] {
  return [
    join(dir, "inbound", safeSegment(corpId), safeSegment(userId)),
    join(dir, "outbound", safeSegment(corpId), safeSegment(userId)),
  ];
}

/**
 * Writes `bytes` to `path` whole or not at all, creating its folders.
 *
 * @example Usage
 * ```ts ignore
 * import { saveFile } from "./store.ts";
 * await saveFile("/srv/gw/data/media/inbound/ww1/zhang/42.jpg", bytes);
 * ```
 */
export async function saveFile(path: string, bytes: Uint8Array): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${crypto.randomUUID().slice(0, 8)}.part`;
  try {
    await Deno.writeFile(temporary, bytes);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

/**
 * The size of the file at `path`, or undefined when there is no such file.
 *
 * @example Usage
 * ```ts
 * import { fileSize } from "./store.ts";
 * console.assert(await fileSize("/no/such/file") === undefined);
 * ```
 */
export async function fileSize(path: string): Promise<number | undefined> {
  try {
    const info = await Deno.stat(path);
    return info.isFile ? info.size : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Deletes files under `dir` last modified before `olderThan` (epoch ms), and
 * folders left empty; returns how many files went. A missing `dir` is fine.
 *
 * @example Usage
 * ```ts ignore
 * import { pruneStore } from "./store.ts";
 * const removed = await pruneStore("/srv/gw/data/media", Date.now() - 72 * 3_600_000);
 * ```
 */
export async function pruneStore(dir: string, olderThan: number): Promise<number> {
  let removed = 0;
  const walk = async (folder: string): Promise<boolean> => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(folder));
    } catch {
      return false;
    }
    let left = entries.length;
    for (const entry of entries) {
      const path = join(folder, entry.name);
      if (entry.isDirectory) {
        if (await walk(path)) {
          await Deno.remove(path).then(() => left--).catch(() => {});
        }
        continue;
      }
      try {
        const info = await Deno.lstat(path);
        if ((info.mtime?.getTime() ?? Infinity) < olderThan) {
          await Deno.remove(path);
          removed++;
          left--;
        }
      } catch {
        // gone already or not ours to remove: leave it
      }
    }
    return left === 0;
  };
  await walk(dir);
  return removed;
}

/** The outcome of {@linkcode resolveAllowed}. */
export type AllowedPath =
  | { ok: true; path: string }
  | {
    ok: false;
    /** `outside`: not under any root (whether it exists is not told); `missing`; `not_file`. */
    reason: "outside" | "missing" | "not_file";
  };

/**
 * The real path of `path` when it names a regular file inside one of `roots`
 * (after resolving `..` and symbolic links of both). A root that does not
 * exist allows nothing; a path outside every root is `outside` whether or not
 * it exists, so a reply cannot probe the server's files.
 *
 * @example Usage
 * ```ts
 * import { resolveAllowed } from "./store.ts";
 * const result = await resolveAllowed("/etc/passwd", ["/srv/agent/out"]);
 * console.assert(!result.ok && result.reason === "outside");
 * ```
 */
export async function resolveAllowed(
  path: string,
  roots: readonly string[],
): Promise<AllowedPath> {
  const realRoots: string[] = [];
  for (const root of roots) {
    try {
      realRoots.push(await Deno.realPath(resolve(root)));
    } catch {
      // a root that does not exist allows nothing
    }
  }
  const inside = (candidate: string) =>
    realRoots.some((root) => candidate.startsWith(root.endsWith(sep) ? root : root + sep));
  let real: string;
  try {
    real = await Deno.realPath(resolve(path));
  } catch {
    return { ok: false, reason: inside(resolve(path)) ? "missing" : "outside" };
  }
  if (!inside(real)) return { ok: false, reason: "outside" };
  try {
    if (!(await Deno.stat(real)).isFile) return { ok: false, reason: "not_file" };
  } catch {
    return { ok: false, reason: "missing" };
  }
  return { ok: true, path: real };
}

/**
 * Writes the attachments an agent returned as data (`data_base64`) into the
 * conversation's outbound folder of the store, and returns the list with those
 * entries as paths there (other entries unchanged).
 *
 * @example Usage
 * ```ts ignore
 * import { storeReplyFiles } from "./store.ts";
 * const files = await storeReplyFiles("/srv/gw/data/media", job, reply.attachments);
 * ```
 */
export async function storeReplyFiles(
  dir: string,
  job: { id: string; corpId: string; userId: string },
  attachments: readonly ReplyAttachment[],
): Promise<ReplyAttachment[]> {
  const folder = outboundDir(dir, job.corpId, job.userId, job.id);
  const used = new Set<string>();
  const out: ReplyAttachment[] = [];
  for (const attachment of attachments) {
    if (attachment.data === undefined) {
      out.push(attachment);
      continue;
    }
    const base = safeSegment(attachment.path.split(/[\\/]/).pop() || "attachment");
    let name = base;
    for (let n = 2; used.has(name); n++) name = `${n}-${base}`;
    used.add(name);
    const path = join(folder, name);
    await saveFile(path, attachment.data);
    out.push(attachment.kind ? { path, kind: attachment.kind } : { path });
  }
  return out;
}

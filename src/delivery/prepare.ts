/**
 * The last step before `message/send`: turning a due outbox item into the
 * message WeCom gets.
 *
 * - Media items (`{ msgtype: "media", path }`): the file must lie under an
 *   allowed folder (the configured upload roots, or the conversation's own
 *   folders in the attachment store; symbolic links and `..` resolved), fit
 *   WeCom's limits (`src/attachments/kinds.ts`), and is then uploaded with
 *   `media/upload` and sent as image, voice, video or file. The media id is
 *   kept on the item (`persist`) so a resend sends the same one and WeCom's
 *   duplicate check holds. A file WeCom would refuse in its own type goes as a
 *   file; one that cannot be sent at all (outside the folders, missing, empty,
 *   over 20 MB, refused by WeCom) becomes a short text saying so, naming the
 *   file by its name only, never its path.
 * - Markdown items for members on the WeChat plugin (configured in
 *   `markdown_plain_users`, or seen writing from WeChat: `keys.clientKind`) go
 *   out as text (`./markdown.ts`).
 * - Everything else is sent as planned.
 *
 * Errors WeCom may get over (busy, network, token) are thrown, so delivery
 * retries the item later.
 *
 * @example Usage
 * ```ts ignore
 * import { createMessagePreparer } from "./prepare.ts";
 * const prepare = createMessagePreparer({ kv, client, media: config.media, plainTextUsers: [] });
 * const { message, persist } = await prepare(app, item);
 * ```
 *
 * @module
 */

import type { AppConfig, MediaConfig } from "../config/types.ts";
import { createAccessCheck } from "../config/access.ts";
import { type LogFields, type LogLevel, write as writeLog } from "../log.ts";
import { MEDIA_MAX_BYTES, planUpload, sizeOver } from "../attachments/kinds.ts";
import { conversationRoots, resolveAllowed } from "../attachments/store.ts";
import { readClientKind } from "../records/client_kind.ts";
import { WeComApiError } from "../wecom/errors.ts";
import { formatBytes } from "../wecom/media.ts";
import type { MediaKind, OutboundMessage, WeComMediaClient } from "../wecom/types.ts";
import { markdownToText } from "./markdown.ts";
import type { MediaMessage, OutboxItem } from "../records/outbox_item.ts";

/** What to send for an item, and the item to store first (e.g. with its media id). */
export interface Prepared {
  message: OutboundMessage;
  /** Store this version of the item before sending (same id). */
  persist?: OutboxItem;
}

/** Prepares one due item (never a recall) for sending through `app`. */
export type PrepareMessage = (
  app: AppConfig,
  item: OutboxItem & { message: OutboundMessage | MediaMessage },
) => Promise<Prepared>;

/** What {@linkcode createMessagePreparer} needs. */
export interface PrepareDeps {
  kv: Deno.Kv;
  client: Pick<WeComMediaClient, "uploadMedia">;
  media: Pick<MediaConfig, "dir" | "uploadRoots">;
  /** Members who get plain text instead of markdown: `user` or `corp:user`. */
  plainTextUsers?: readonly string[];
  /** Also members last seen writing from WeChat (default true). */
  detectWeChat?: boolean;
  now?: () => number;
  log?: (level: LogLevel, message: string, fields?: LogFields) => void;
}

/** A media id is used for a resend while younger than this (WeCom keeps it 3 days). */
const MEDIA_ID_REUSE_MS = 2 * 24 * 3_600_000;

/** Errcodes of media/upload meaning "not this file in this type". */
const REFUSED_FILE_ERRCODES: ReadonlySet<number> = new Set([
  40004,
  40005,
  40006,
  40009,
  40011,
  44001,
  45001,
]);

/**
 * The text sent instead of a file that cannot be sent.
 *
 * @example Usage
 * ```ts
 * import { cannotSend } from "./prepare.ts";
 * console.assert(cannotSend("a.pdf", "it no longer exists") ===
 *   '[Could not send the file "a.pdf": it no longer exists.]');
 * ```
 */
export function cannotSend(filename: string, reason: string): string {
  return `[Could not send the file "${filename}": ${reason}.]`;
}

/**
 * Prepares items when delivery has no media support: media items are
 * explained as not sent, everything else goes as planned.
 *
 * @example Usage
 * ```ts ignore
 * import { passThrough } from "./prepare.ts";
 * const { message } = await passThrough(app, item);
 * ```
 */
export const passThrough: PrepareMessage = (_app, item) => {
  const message = item.message;
  if (message.msgtype !== "media") return Promise.resolve({ message });
  return Promise.resolve({
    message: {
      msgtype: "text",
      content: cannotSend(message.filename, "sending files is not set up on this gateway"),
    },
  });
};

/**
 * Returns the preparer delivery calls for each due item.
 *
 * @example Usage
 * ```ts ignore
 * import { createMessagePreparer } from "./prepare.ts";
 * const prepare = createMessagePreparer({ kv, client, media: config.media });
 * ```
 */
export function createMessagePreparer(deps: PrepareDeps): PrepareMessage {
  const now = deps.now ?? Date.now;
  const log = deps.log ?? writeLog;
  const listed = createAccessCheck({
    allowAll: false,
    allowedUsers: [...deps.plainTextUsers ?? []],
  });
  const detect = deps.detectWeChat ?? true;

  async function plainText(corpId: string, userId: string): Promise<boolean> {
    if (listed(corpId, userId)) return true;
    if (!detect) return false;
    const seen = await readClientKind(deps.kv, corpId, userId);
    return seen?.client === "wechat" && seen.expiresAt > now();
  }

  async function media(
    app: AppConfig,
    item: OutboxItem,
    message: MediaMessage,
  ): Promise<Prepared> {
    const fields: LogFields = { item: item.id, job: item.jobId, app: app.name };
    const explain = (reason: string, logged: string): Prepared => {
      log("warn", `attachment not sent: ${logged}; the user is told`, {
        ...fields,
        file: message.filename,
      });
      return { message: { msgtype: "text", content: cannotSend(message.filename, reason) } };
    };
    if (message.uploaded && now() - message.uploaded.at < MEDIA_ID_REUSE_MS) {
      return { message: { msgtype: message.uploaded.kind, mediaId: message.uploaded.mediaId } };
    }
    const roots = [
      ...deps.media.uploadRoots,
      ...conversationRoots(deps.media.dir, app.corpId, item.userId),
    ];
    const allowed = await resolveAllowed(message.path, roots);
    if (!allowed.ok) {
      return allowed.reason === "outside"
        ? explain(
          "it is not in a folder this app may send files from",
          "the path is outside gateway.media.upload_roots",
        )
        : allowed.reason === "missing"
        ? explain("it no longer exists", "the file does not exist")
        : explain("it is not a file", "the path is not a regular file");
    }
    let size: number;
    let bytes: Uint8Array;
    try {
      size = (await Deno.stat(allowed.path)).size;
      bytes = size > MEDIA_MAX_BYTES.file ? new Uint8Array(0) : await Deno.readFile(allowed.path);
    } catch (error) {
      return explain("it could not be read", `reading it failed (${(error as Error).name})`);
    }
    if (size > MEDIA_MAX_BYTES.file) {
      return explain(
        `it is ${sizeOver(size, MEDIA_MAX_BYTES.file)}; WeCom sends files of at most ${
          formatBytes(MEDIA_MAX_BYTES.file)
        }`,
        "too large for WeCom",
      );
    }
    const plan = planUpload({ filename: message.filename, bytes, wanted: message.kind });
    if (!plan.ok) return explain(plan.reason, "WeCom would refuse it");
    let kind: MediaKind = plan.kind;
    let uploaded;
    try {
      uploaded = await deps.client.uploadMedia(app, kind, bytes, plan.filename, plan.contentType);
    } catch (error) {
      if (!(error instanceof WeComApiError) || !REFUSED_FILE_ERRCODES.has(error.errcode)) {
        throw error;
      }
      if (kind === "file") {
        return explain("WeCom refused it", `WeCom refused the upload (errcode ${error.errcode})`);
      }
      log("info", `WeCom refused the attachment as ${kind}; sending it as a file`, {
        ...fields,
        errcode: error.errcode,
      });
      kind = "file";
      try {
        uploaded = await deps.client.uploadMedia(app, kind, bytes, plan.filename, plan.contentType);
      } catch (again) {
        if (again instanceof WeComApiError && REFUSED_FILE_ERRCODES.has(again.errcode)) {
          return explain("WeCom refused it", `WeCom refused the upload (errcode ${again.errcode})`);
        }
        throw again;
      }
    }
    const persist: OutboxItem = {
      ...item,
      message: { ...message, uploaded: { mediaId: uploaded.mediaId, kind, at: now() } },
    };
    return { message: { msgtype: kind, mediaId: uploaded.mediaId }, persist };
  }

  return async (app, item) => {
    const message = item.message;
    if (message.msgtype === "media") return await media(app, item, message);
    if (message.msgtype === "markdown" && await plainText(app.corpId, item.userId)) {
      const text = markdownToText(message.content);
      return { message: { msgtype: "text", content: /\S/.test(text) ? text : message.content } };
    }
    return { message };
  };
}

/**
 * Inbound media: the files of image, voice and video messages, fetched for the
 * agent when the job runs (never in the callback: WeCom gets its 200 first).
 *
 * For a job whose message has a `MediaId`, {@linkcode createInboundMedia}'s
 * function downloads it with `media/get` (at most `gateway.media.max_bytes`)
 * into the attachment store (`./store.ts`), and for voice asks the
 * transcription API when one is configured (`./transcribe.ts`), keeping the
 * transcript next to the file. A job run again finds both and fetches
 * nothing. Failures do not fail the job: the agent still runs, told what is
 * missing and why (`errors`), and the log says so without any content. Now
 * and then files older than `retention_hours` are deleted.
 *
 * @example Usage
 * ```ts ignore
 * import { createInboundMedia } from "./inbound.ts";
 * const fetchMedia = createInboundMedia({ client, apps: config.apps, config: config.media });
 * const { attachments, errors } = await fetchMedia(job, signal);
 * ```
 *
 * @module
 */

import { basename, dirname } from "../path.ts";
import type { MediaFacts } from "../records/describe.ts";
import type { InboundAttachment } from "../records/agent.ts";
import type { AppConfig, MediaConfig } from "../config/types.ts";
import type { JobRecord } from "../records/job.ts";
import { type LogFields, type LogLevel, write } from "../log.ts";
import { WeComApiError } from "../wecom/errors.ts";
import { formatBytes, MediaTooLargeError } from "../wecom/media.ts";
import type { WeComMediaClient } from "../wecom/types.ts";
import { contentTypeFor, extensionFor } from "../attachments/kinds.ts";
import { fileSize, inboundPath, pruneStore, saveFile } from "../attachments/store.ts";
import { transcribe } from "./transcribe.ts";

/** What {@linkcode createInboundMedia} needs. */
export interface InboundMediaDeps {
  client: Pick<WeComMediaClient, "downloadMedia">;
  apps: readonly AppConfig[];
  config: MediaConfig;
  /** `fetch` of the transcription API (tests). */
  fetch?: typeof fetch;
  /** Clock, epoch ms (default `Date.now`). */
  now?: () => number;
  log?: (level: LogLevel, message: string, fields?: LogFields) => void;
  /** Least time between two prunes of the store, ms (default 1 hour). */
  pruneEveryMs?: number;
  /** Wait before the one retry of a download that failed for a passing reason, ms (default 1000). */
  retryDelayMs?: number;
}

/** The default extension of each kind, when neither bytes nor WeCom tell. */
const DEFAULT_EXTENSION = { image: "jpg", voice: "amr", video: "mp4" } as const;

/**
 * Returns the function the job runs before the agent: `(job, signal)` → the
 * message's saved files and the reasons any are missing.
 *
 * @example Usage
 * ```ts ignore
 * import { createInboundMedia } from "./inbound.ts";
 * const fetchMedia = createInboundMedia({ client, apps, config: config.media });
 * const media = await fetchMedia(job, AbortSignal.timeout(60_000));
 * ```
 */
export function createInboundMedia(
  deps: InboundMediaDeps,
): (job: JobRecord, signal: AbortSignal) => Promise<MediaFacts> {
  const { config } = deps;
  const now = deps.now ?? Date.now;
  const log = deps.log ?? ((level, message, fields) => write(level, message, fields));
  const pruneEveryMs = deps.pruneEveryMs ?? 3_600_000;
  const retryDelayMs = deps.retryDelayMs ?? 1000;
  let lastPrune = Number.NEGATIVE_INFINITY;

  async function prune(): Promise<void> {
    if (config.retentionHours <= 0 || now() - lastPrune < pruneEveryMs) return;
    lastPrune = now();
    try {
      const removed = await pruneStore(config.dir, now() - config.retentionHours * 3_600_000);
      if (removed > 0) log("info", "deleted old files from the attachment store", { removed });
    } catch (error) {
      log("warn", "could not prune the attachment store", { error: errorText(error) });
    }
  }

  async function download(
    app: AppConfig,
    mediaId: string,
    signal: AbortSignal,
  ): Promise<{ bytes: Uint8Array; contentType: string; filename: string }> {
    for (let attempt = 1;; attempt++) {
      try {
        return await deps.client.downloadMedia(app, mediaId, {
          maxBytes: config.maxBytes,
          signal,
        });
      } catch (error) {
        if (attempt >= 2 || signal.aborted || !(error instanceof WeComApiError)) throw error;
        if (!error.retryable) throw error;
        await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
      }
    }
  }

  return async (job, signal) => {
    const message = job.message;
    if (message.type !== "image" && message.type !== "voice" && message.type !== "video") {
      return {};
    }
    await prune();
    const fields: LogFields = { jobId: job.id, app: job.app, kind: message.type };
    const app = deps.apps.find((candidate) => candidate.name === job.app);
    if (!app) {
      log("warn", "cannot fetch the message's file: its app is no longer configured", fields);
      return { errors: [`${message.type} not downloaded: the app is no longer configured`] };
    }
    if (!message.mediaId) return { errors: [`${message.type} not downloaded: it has no MediaId`] };

    let attachment: InboundAttachment;
    try {
      attachment = await saved(job, message.type, message.mediaId, app, signal);
    } catch (error) {
      if (signal.aborted) throw signal.reason ?? error;
      const reason = downloadFailure(error);
      // An expired media id (40007) is not the operator's to fix: info, not warn.
      const expired = error instanceof WeComApiError && error.errcode === 40007;
      log(expired ? "info" : "warn", "could not download the message's file; the agent is told", {
        ...fields,
        errcode: error instanceof WeComApiError ? error.errcode : undefined,
        error: errorText(error),
      });
      return { errors: [`${message.type} not downloaded: ${reason}`] };
    }
    const errors: string[] = [];
    if (message.type === "voice" && config.transcription.baseUrl) {
      try {
        attachment.transcript = await transcript(attachment, signal);
      } catch (error) {
        if (signal.aborted) throw signal.reason ?? error;
        log("warn", "could not transcribe the voice message; the agent gets the audio only", {
          ...fields,
          error: errorText(error),
        });
        errors.push(`voice not transcribed: ${errorText(error)}`);
      }
    }
    return errors.length > 0
      ? { attachments: [attachment], errors }
      : { attachments: [attachment] };
  };

  /** The saved file of the message: found from an earlier run, or downloaded now. */
  async function saved(
    job: JobRecord,
    kind: InboundAttachment["kind"],
    mediaId: string,
    app: AppConfig,
    signal: AbortSignal,
  ): Promise<InboundAttachment> {
    const msgId = "msgId" in job.message ? job.message.msgId : job.id;
    const fallback = DEFAULT_EXTENSION[kind];
    // An earlier run of this job may have saved it already.
    for (const extension of await knownExtensions(job, msgId)) {
      const path = inboundPath(config.dir, job.corpId, job.userId, msgId, extension);
      const size = await fileSize(path);
      if (size !== undefined && size > 0) {
        return { kind, path, filename: basename(path), size, contentType: contentTypeFor(path) };
      }
    }
    const file = await download(app, mediaId, signal);
    const extension = extensionFor(file.bytes, file.filename, file.contentType, fallback);
    const path = inboundPath(config.dir, job.corpId, job.userId, msgId, extension);
    await saveFile(path, file.bytes);
    const contentType = /^(image|audio|video)\//.test(file.contentType)
      ? file.contentType.split(";")[0].trim()
      : contentTypeFor(path);
    return { kind, path, filename: basename(path), size: file.bytes.length, contentType };
  }

  /** Extensions of files already saved for this message (usually none). */
  async function knownExtensions(job: JobRecord, msgId: string): Promise<string[]> {
    const probe = inboundPath(config.dir, job.corpId, job.userId, msgId, "x");
    const folder = dirname(probe);
    const stem = basename(probe).slice(0, -2);
    const found: string[] = [];
    try {
      for await (const entry of Deno.readDir(folder)) {
        if (entry.isFile && entry.name.startsWith(`${stem}.`) && !entry.name.endsWith(".part")) {
          const extension = entry.name.slice(stem.length + 1);
          if (/^[a-z0-9]{1,8}$/.test(extension)) found.push(extension);
        }
      }
    } catch {
      // no folder yet
    }
    return found;
  }

  /** The transcript of a saved voice file: kept from an earlier run, or asked for now. */
  async function transcript(file: InboundAttachment, signal: AbortSignal): Promise<string> {
    const textPath = `${file.path}.txt`;
    try {
      return await Deno.readTextFile(textPath);
    } catch {
      // not transcribed yet
    }
    const bytes = await Deno.readFile(file.path);
    const text = await transcribe(
      config.transcription,
      { bytes, filename: file.filename, contentType: file.contentType },
      { fetch: deps.fetch, signal },
    );
    await saveFile(textPath, new TextEncoder().encode(text)).catch(() => {});
    return text;
  }
}

/** Why a download failed, for the agent (and, through it, the user). */
function downloadFailure(error: unknown): string {
  if (error instanceof MediaTooLargeError) {
    const size = error.size === undefined ? "larger than" : `${formatBytes(error.size)}, over`;
    return `the file is ${size} the gateway's ${formatBytes(error.maxBytes)} limit`;
  }
  if (error instanceof WeComApiError) {
    if (error.errcode === 40007) {
      return "WeCom no longer has it (media ids expire after 3 days)";
    }
    if (error.errcode > 0 || error.errcode === -1) {
      return `WeCom media/get failed with errcode ${error.errcode}`;
    }
    return error.httpStatus
      ? `WeCom media/get answered HTTP ${error.httpStatus}`
      : "WeCom could not be reached";
  }
  return "it could not be saved on the gateway";
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

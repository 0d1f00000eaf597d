/**
 * The WeCom API as the delivery layer sees it.
 *
 * `./client.ts` implements {@linkcode WeComClient} over HTTP with a KV token
 * cache; tests may pass the real client pointed at `src/simulator/wecom_api.ts`.
 *
 * @module
 */

import type { AppConfig } from "../config/types.ts";

/** One message for `message/send` to a single member. */
export type OutboundMessage =
  | { msgtype: "text"; content: string }
  | { msgtype: "markdown"; content: string }
  | { msgtype: "image" | "voice" | "video" | "file"; mediaId: string };

/** Options of one send. */
export interface SendOptions {
  /**
   * `enable_duplicate_check` with a 4-hour interval: WeCom drops a request identical to one
   * it received within that time. Delivery sets it on every send, so that a resend after a
   * crash or a timeout is identical to the first copy.
   */
  duplicateCheck?: boolean;
}

/** WeCom's answer to a successful send. */
export interface SendResult {
  /** Used for `message/recall`. */
  msgId: string;
  /** Recipients WeCom listed as invalid (lowercased by WeCom). */
  invalidUsers: string[];
}

/** A WeCom media type: the `type` of `media/upload` and the msgtype that sends it. */
export type MediaKind = "image" | "voice" | "video" | "file";

/** WeCom's answer to `media/upload`. */
export interface UploadResult {
  /** Valid 3 days, for every app of the corp. */
  mediaId: string;
  type: MediaKind;
  /** When WeCom stored it, epoch ms. */
  createdAt: number;
}

/** A file fetched with `media/get`. */
export interface DownloadResult {
  bytes: Uint8Array;
  /** As WeCom sent it (`application/octet-stream` when it gave none). */
  contentType: string;
  /** From `Content-Disposition`; empty when WeCom gave none. */
  filename: string;
}

/** Options of {@linkcode WeComMediaClient.downloadMedia}. */
export interface DownloadOptions {
  /** Refuse (with `MediaTooLargeError`) a file larger than this, before reading it all. */
  maxBytes?: number;
  signal?: AbortSignal;
}

/**
 * The media calls: upload for outbound attachments (delivery), download for
 * inbound images, voice and video (the job, before the agent runs).
 */
export interface WeComMediaClient {
  uploadMedia(
    app: AppConfig,
    kind: MediaKind,
    bytes: Uint8Array,
    filename: string,
    contentType: string,
  ): Promise<UploadResult>;
  downloadMedia(
    app: AppConfig,
    mediaId: string,
    options?: DownloadOptions,
  ): Promise<DownloadResult>;
}

/** The calls delivery needs. Every method throws `WeComApiError` (`./errors.ts`) on failure. */
export interface WeComClient {
  send(
    app: AppConfig,
    userId: string,
    message: OutboundMessage,
    options?: SendOptions,
  ): Promise<SendResult>;
  recall(app: AppConfig, msgId: string): Promise<void>;
}

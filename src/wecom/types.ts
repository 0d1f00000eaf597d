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
  /** Set on retried sends so that WeCom drops an identical copy (`enable_duplicate_check`). */
  duplicateCheck?: boolean;
}

/** WeCom's answer to a successful send. */
export interface SendResult {
  /** Used for `message/recall`. */
  msgId: string;
  /** Recipients WeCom listed as invalid (lowercased by WeCom). */
  invalidUsers: string[];
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

/**
 * The records of the simulated WeCom API: the apps it knows, the options it
 * starts with, what it received and delivered, the files it holds, and the
 * handle a test drives it through.
 *
 * @example Usage
 * ```ts ignore
 * import type { FakeMessage } from "./types.ts";
 * const texts = (messages: FakeMessage[]) => messages.map((m) => m.payload.content);
 * ```
 *
 * @module
 */

/** One app the fake knows. */
export interface FakeApp {
  corpId: string;
  corpSecret: string;
  agentId: string;
}

/** API names used by `inject` and in `received`. */
export type FakeApiName = "gettoken" | "send" | "recall" | "upload" | "media";

/** One injected behaviour. */
export type FakeBehaviour =
  | { errcode: number; errmsg?: string }
  | { httpStatus: number }
  | { delayMs: number }
  | "drop-connection";

/** Options of `startFakeWeComApi`. */
export interface FakeWeComOptions {
  apps?: FakeApp[];
  /** Lifetime of issued tokens (default 7200). */
  tokenTtlSeconds?: number;
  /** Clock (epoch ms) for token expiry, rate windows, duplicate checks and recall age. */
  now?: () => number;
  /** Known members; when set, any other touser is invalid (81013 when none is valid). */
  users?: string[];
  /** Text/markdown over 2048 bytes: deliver cut with a flag (default) or refuse with 45002. */
  oversize?: "truncate" | "reject";
  /**
   * What `enable_duplicate_check` compares: the whole request JSON (default,
   * WeCom's "同样内容（请求json）") or the message without the two duplicate-check
   * fields, against any delivered message (`content`).
   */
  duplicateCheck?: "request" | "content";
  /** Deliveries per app and member per 60 s before silent drops (default 30). */
  perMinute?: number;
  /** Deliveries per app and member per hour before silent drops (default 1000). */
  perHour?: number;
  /** media/get of a larger file without `Range` answers 830002 (default 20 MB). */
  mediaGetMaxBytes?: number;
}

/** A media file the fake holds: uploaded through media/upload or registered by a test. */
export interface FakeMedia {
  mediaId: string;
  type: "image" | "voice" | "video" | "file";
  bytes: Uint8Array;
  filename: string;
  contentType: string;
  /** Epoch ms (the fake's clock); the id expires 3 days later. */
  at: number;
  source: "upload" | "registered";
  /** Agent id of the uploading app (uploads only). */
  agentId?: string;
}

/** One request the fake received. */
export interface FakeRequest {
  api: FakeApiName | "unknown";
  method: string;
  path: string;
  query: Record<string, string>;
  /** Parsed JSON body, the raw text when it is not JSON, or undefined. */
  body: unknown;
  /** Agent id of the app the request was for (matched credentials or token), if known. */
  agentId?: string;
  at: number;
}

/** A message to one member, as the fake processed it. */
export interface FakeMessage {
  msgid: string;
  corpId: string;
  agentId: string;
  /** One member (a multi-member send is recorded once per member). */
  touser: string;
  msgtype: string;
  /** The `<msgtype>` object as delivered (content cut when truncated). */
  payload: Record<string, unknown>;
  /** The whole request body. */
  body: Record<string, unknown>;
  at: number;
  truncated: boolean;
  recalled: boolean;
  recalledAt?: number;
}

/** A token gettoken issued. */
export interface IssuedToken {
  app: FakeApp;
  expiresAt: number;
  revoked: boolean;
}

/** Everything the fake remembers; tests read and may adjust it. */
export interface FakeState {
  apps: FakeApp[];
  tokens: Map<string, IssuedToken>;
  /** Known members, or null for "everyone is valid". */
  users: Set<string> | null;
  oversize: "truncate" | "reject";
  delivered: FakeMessage[];
  /** Answered errcode 0 but dropped by the per-member limits. */
  dropped: FakeMessage[];
  /** Answered errcode 0 but suppressed by `enable_duplicate_check`. */
  duplicatesSuppressed: FakeMessage[];
  recalls: Array<{ msgid: string; agentId: string; at: number }>;
  /** Media by id: uploads and registered files. */
  media: Map<string, FakeMedia>;
}

/** A running fake. */
export interface FakeWeComApi {
  /** Base URL, e.g. `http://127.0.0.1:41234` (use as `apiBase`). */
  url: string;
  state: FakeState;
  received: FakeRequest[];
  inject(api: FakeApiName | "any", behaviours: FakeBehaviour[]): void;
  /** Delivered messages (including recalled ones), optionally for one member. */
  delivered(userId?: string): FakeMessage[];
  /** gettoken requests received, optionally only those with the credentials of `agentId`'s app. */
  gettokenCalls(agentId?: string): number;
  /** Revokes every issued token: the next use answers 40014. */
  revokeTokens(): void;
  /** Expires every issued token: the next use answers 42001. */
  expireTokens(): void;
  /**
   * Registers a file as WeCom holds what a user sent (image, voice, video) and
   * returns its media id for the callback's `MediaId`.
   */
  addMedia(
    bytes: Uint8Array,
    options?: { filename?: string; contentType?: string; type?: FakeMedia["type"] },
  ): string;
  /** Files uploaded through media/upload, oldest first. */
  uploads(): FakeMedia[];
  close(): Promise<void>;
}

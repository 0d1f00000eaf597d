/**
 * The state of one running fake, passed explicitly to every route: the
 * settings it started with, what tests read (`FakeState`, `received`) and the
 * indexes the routes keep for themselves (messages by msgid, duplicate keys).
 *
 * @example Usage
 * ```ts ignore
 * import { createFake } from "./state.ts";
 * const fake = createFake({ users: ["zhangsan"] });
 * fake.state.delivered.length; // 0
 * ```
 *
 * @module
 */

import { FAKE_APP } from "./app.ts";
import type { FakeMessage, FakeRequest, FakeState, FakeWeComOptions } from "./types.ts";

/** 1 MiB. */
export const MB = 1024 * 1024;

/** The options with their defaults filled in. */
export interface FakeSettings {
  now: () => number;
  ttlMs: number;
  perMinute: number;
  perHour: number;
  duplicateMode: "request" | "content";
  mediaGetMaxBytes: number;
}

/** One fake's whole state. */
export interface Fake {
  settings: FakeSettings;
  state: FakeState;
  received: FakeRequest[];
  /** msgid → the records of its members (recall marks them all). */
  messages: Map<string, FakeMessage[]>;
  /** What a delivered message is compared by under `enable_duplicate_check`. */
  duplicateKeys: WeakMap<FakeMessage, string>;
}

/** Creates the state of a new fake from its options. */
export function createFake(options: FakeWeComOptions = {}): Fake {
  return {
    settings: {
      now: options.now ?? Date.now,
      ttlMs: (options.tokenTtlSeconds ?? 7200) * 1000,
      perMinute: options.perMinute ?? 30,
      perHour: options.perHour ?? 1000,
      duplicateMode: options.duplicateCheck ?? "request",
      mediaGetMaxBytes: options.mediaGetMaxBytes ?? 20 * MB,
    },
    state: {
      apps: options.apps ?? [FAKE_APP],
      tokens: new Map(),
      users: options.users ? new Set(options.users) : null,
      oversize: options.oversize ?? "truncate",
      delivered: [],
      dropped: [],
      duplicatesSuppressed: [],
      recalls: [],
      media: new Map(),
    },
    received: [],
    messages: new Map(),
    duplicateKeys: new WeakMap(),
  };
}

/** A random URL-safe token of `bytes` random bytes (access tokens, msgids, media ids). */
export function randomToken(bytes: number): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...raw)).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

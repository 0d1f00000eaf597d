/**
 * What became of WeCom's URL-verification GETs: the operator console's live
 * setup status. Each GET on the public listener is reduced to one record per
 * path (time, ok, a diagnosis code) and kept in KV, so a console on any
 * process sharing the KV sees what the edge process answered.
 *
 * Diagnosis codes: `ok`; `token` (the signature matches no app's Token);
 * `key` (the Token matched but the echostr does not decrypt: EncodingAESKey);
 * `corp` (it decrypts, but for another CorpID: the receive id); `clock` (the
 * timestamp is outside the replay window); `query` (the query is incomplete or
 * mangled, e.g. by a proxy); `path` (the GET arrived on a path that is not a
 * callback path); `other`.
 *
 * @example Usage
 * ```ts
 * import { createVerificationLog } from "./verifications.ts";
 * const kv = await Deno.openKv(":memory:");
 * const log = createVerificationLog(kv);
 * log.observe({ method: "GET", status: 403, outcome: "bad_signature", ms: 1, path: "/wecom/callback" });
 * await log.flushed();
 * const [record] = await log.list();
 * console.assert(record.code === "token" && !record.ok);
 * kv.close();
 * ```
 *
 * @module
 */

import type { CallbackObservation } from "../http/callback.ts";
import { log } from "../log.ts";
import { keys } from "../store/keys.ts";

/** The diagnosis of one verification GET. */
export type VerificationCode =
  | "ok"
  | "token"
  | "key"
  | "corp"
  | "clock"
  | "query"
  | "path"
  | "other";

/** The last verification GET seen on one path. */
export interface VerificationRecord {
  path: string;
  /** Epoch ms. */
  at: number;
  ok: boolean;
  code: VerificationCode;
  /** HTTP status the gateway answered. */
  status: number;
  /** The app that answered (successful GETs only). */
  app?: string;
}

/** Records verification outcomes and lists the latest per path. */
export interface VerificationLog {
  /** Takes every callback observation; only GETs are recorded. */
  observe(observation: CallbackObservation): void;
  /** A verification GET on a path that is not a callback path. */
  observeStray(path: string): void;
  /** The latest record per path, newest first. */
  list(): Promise<VerificationRecord[]>;
  /** Resolves when every record observed so far is written. */
  flushed(): Promise<void>;
}

/**
 * Maps a callback outcome (and the crypto failure code behind it) to a diagnosis.
 *
 * @example Usage
 * ```ts
 * import { diagnose } from "./verifications.ts";
 * console.assert(diagnose("decrypt_failed", "receive_id_mismatch") === "corp");
 * ```
 */
export function diagnose(outcome: string, detail?: string): VerificationCode {
  switch (outcome) {
    case "verified":
      return "ok";
    case "bad_signature":
      return "token";
    case "decrypt_failed":
      return detail === "receive_id_mismatch" ? "corp" : "key";
    case "stale_timestamp":
      return "clock";
    case "missing_query":
    case "missing_echostr":
    case "bad_timestamp":
    case "bad_base64":
      return "query";
    default:
      return "other";
  }
}

/** The key part under which the last GET on a wrong path is kept. */
const STRAY_KEY = "(other path)";

/** At most one KV write per path and outcome per this many ms (a GET flood writes little). */
const WRITE_EVERY_MS = 1000;

/**
 * Creates the log over `kv`.
 *
 * @example Usage
 * ```ts ignore
 * const verifications = createVerificationLog(kv);
 * createCallbackHandler({ ..., observe: verifications.observe });
 * ```
 */
export function createVerificationLog(kv: Deno.Kv, now: () => number = Date.now): VerificationLog {
  const lastWrite = new Map<string, { code: string; at: number }>();
  let pending: Promise<void> = Promise.resolve();

  const record = (entry: VerificationRecord) => {
    // Stray paths share one key, in KV and here: a scan of random paths can fill neither.
    const slot = entry.code === "path" ? STRAY_KEY : entry.path;
    const previous = lastWrite.get(slot);
    if (previous && previous.code === entry.code && entry.at - previous.at < WRITE_EVERY_MS) {
      return;
    }
    lastWrite.set(slot, { code: entry.code, at: entry.at });
    // Written in order, off the request's path; a failed write only loses the console's status.
    const key = keys.verification(slot);
    pending = pending.then(() => kv.set(key, entry)).then(
      () => {},
      (error) => log.warn("cannot record a URL verification", { error: (error as Error).message }),
    );
  };

  return {
    observe(observation) {
      if (observation.method !== "GET") return;
      const code = diagnose(observation.outcome, observation.detail);
      record({
        path: observation.path ?? "",
        at: now(),
        ok: code === "ok",
        code,
        status: observation.status,
        ...(observation.app ? { app: observation.app } : {}),
      });
    },
    observeStray(path) {
      record({ path: path.slice(0, 200), at: now(), ok: false, code: "path", status: 404 });
    },
    async list() {
      const records: VerificationRecord[] = [];
      for await (
        const entry of kv.list<VerificationRecord>({ prefix: keys.verificationPrefix() }, {
          limit: 200,
        })
      ) records.push(entry.value);
      return records.sort((a, b) => b.at - a.at);
    },
    flushed: () => pending,
  };
}

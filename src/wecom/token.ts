/**
 * The access token of each app, cached in Deno KV and refreshed single-flight.
 *
 * - One token per app (corp id + agent id) at `keys.accessToken`, as
 *   `{ token, expiresAt, refreshAt }` (epoch ms). It is refreshed ahead of its
 *   expiry (5 minutes before, or half its lifetime when that is shorter).
 * - Single-flight within a process (concurrent callers share one fetch) and
 *   across processes sharing one KV: the refresher claims `keys.accessTokenLock`
 *   with an atomic check (a lease with expiry); the others poll the token key
 *   every 50 ms and take over a lock that outlives its lease.
 * - The fresh token of each app is also kept in memory until its `refreshAt`,
 *   so a send reads no KV row for it. A token another process refetched in the
 *   meantime may have made ours invalid: WeCom then answers 40014/42001, the
 *   caller calls `invalidate()`, which forgets it here too, and the next `get`
 *   reads KV again.
 * - `invalidate()` deletes the cached token only if it is still the stale one,
 *   so a token another caller just refreshed survives.
 * - Credential errors (40001 wrong secret, 40013 wrong corp id, …) are sticky:
 *   recorded at `keys.credentialFailure` with a SHA-256 fingerprint of the
 *   corp id and secret (never the secret), logged once at error level, and
 *   `gettoken` is not called again until the secret changes or an hour passes.
 *   WeCom bans an IP for an hour after repeated wrong secrets.
 *
 * @example Usage
 * ```ts ignore
 * import { createTokenCache } from "./token.ts";
 * const kv = await Deno.openKv(":memory:");
 * const tokens = createTokenCache({ kv });
 * const token = await tokens.get(app); // gettoken once, then from KV
 * ```
 *
 * @module
 */

import type { AppConfig } from "../config/types.ts";
import { write as writeLog } from "../log.ts";
import type { LogFields, LogLevel } from "../log.ts";
import { commit } from "../store/kv.ts";
import { keys } from "../store/keys.ts";
import { NO_ERRCODE, WeComApiError } from "./errors.ts";
import { wecomFetchJson } from "./request.ts";

/** A log function; defaults to `write` from `src/log.ts`. */
export type WeComLog = (level: LogLevel, message: string, fields?: LogFields) => void;

/** The value at `keys.accessToken`. */
export interface CachedAccessToken {
  token: string;
  /** Epoch ms after which WeCom no longer accepts the token. */
  expiresAt: number;
  /** Epoch ms after which the next caller refreshes it. */
  refreshAt: number;
}

/** The value at `keys.accessTokenLock`. */
export interface AccessTokenLock {
  owner: string;
  /** Epoch ms when the lease ends; after it any process may take the lock. */
  until: number;
}

/** The value at `keys.credentialFailure`. */
export interface CredentialFailure {
  errcode: number;
  errmsg: string;
  /** The explanation given to the operator. */
  message: string;
  /** SHA-256 (hex, 128 bits) of corp id and secret: a changed secret clears the failure. */
  fingerprint: string;
  at: number;
  /** Epoch ms after which gettoken may be tried again with the same secret. */
  expiresAt: number;
}

/** Options of {@linkcode createTokenCache}. */
export interface TokenCacheOptions {
  kv: Deno.Kv;
  /** The fetch to use (tests); defaults to the global one. */
  fetch?: typeof fetch;
  /** Clock for expiry decisions (epoch ms); defaults to `Date.now`. */
  now?: () => number;
  /** Timeout of one gettoken call, ms (default 10 000). */
  timeoutMs?: number;
  /** Refresh this long before expiry (default 5 minutes; at most half the lifetime). */
  refreshAheadMs?: number;
  /** Lease of the cross-process refresh lock, ms (default timeoutMs + 5 s). */
  lockLeaseMs?: number;
  /** Interval at which a waiter polls for the token another process fetches, ms (default 50). */
  pollMs?: number;
  /** Real time a waiter waits for another refresher before taking over its lock (default the lease). */
  maxWaitMs?: number;
  /** How long a credential failure stops gettoken for an unchanged secret, ms (default 1 h). */
  credentialBackoffMs?: number;
  log?: WeComLog;
  /** Called after every gettoken HTTP call (metrics, tests). */
  onTokenFetch?: (app: AppConfig, outcome: "ok" | "error") => void;
}

/** Counters of a token cache. */
export interface TokenCacheStats {
  /** gettoken HTTP calls made by this process. */
  fetches: number;
  /** Of which failed. */
  fetchFailures: number;
}

/** Access tokens of all apps. */
export interface TokenCache {
  /**
   * Returns a usable token, fetching it when needed. Pass `staleToken` after
   * invalidating it so that a fetch begun before the invalidation is not reused.
   */
  get(app: AppConfig, staleToken?: string): Promise<string>;
  /** Deletes the cached token if it is still `staleToken`; true when it did. */
  invalidate(app: AppConfig, staleToken: string): Promise<boolean>;
  /**
   * Calls gettoken now, bypassing the cache and a sticky credential failure
   * (for an operator's explicit check); stores the result either way.
   */
  fetchNow(app: AppConfig): Promise<string>;
  stats(): TokenCacheStats;
}

const HOUR = 3_600_000;

/**
 * Creates the access-token cache over `kv`.
 *
 * @example Usage
 * ```ts ignore
 * import { createTokenCache } from "./token.ts";
 * const tokens = createTokenCache({ kv, onTokenFetch: (app) => metrics.inc(app.name) });
 * const token = await tokens.get(app);
 * await tokens.invalidate(app, token); // after WeCom answered 40014 / 42001
 * ```
 */
export function createTokenCache(options: TokenCacheOptions): TokenCache {
  const { kv } = options;
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const refreshAheadMs = options.refreshAheadMs ?? 5 * 60_000;
  const lockLeaseMs = options.lockLeaseMs ?? timeoutMs + 5_000;
  const pollMs = options.pollMs ?? 50;
  const maxWaitMs = options.maxWaitMs ?? lockLeaseMs;
  const backoffMs = options.credentialBackoffMs ?? HOUR;
  const log: WeComLog = options.log ?? writeLog;
  const owner = crypto.randomUUID();
  const inflight = new Map<string, Promise<string>>();
  /** The fresh token of each app (by `appId`), until its `refreshAt`. */
  const fresh = new Map<string, CachedAccessToken>();
  /**
   * The last token of each app that a send found revoked (`invalidate`): a KV
   * read racing the invalidation must not put it back in memory. A token
   * fetched from WeCom afterwards is WeCom's current word and clears it.
   */
  const revoked = new Map<string, string>();
  const appId = (app: AppConfig) => `${app.corpId}\u0000${app.agentId}`;
  const counters: TokenCacheStats = { fetches: 0, fetchFailures: 0 };

  /** One gettoken HTTP call; stores the outcome (token or sticky failure). */
  async function fetchAndStore(app: AppConfig): Promise<string> {
    const started = now();
    const url = `${app.apiBase}/cgi-bin/gettoken?corpid=${encodeURIComponent(app.corpId)}` +
      `&corpsecret=${encodeURIComponent(app.corpSecret)}`;
    let answer;
    counters.fetches++;
    try {
      answer = await wecomFetchJson(url, { api: "gettoken", timeoutMs, fetch: options.fetch });
      if (typeof answer.access_token !== "string" || answer.access_token === "") {
        throw new WeComApiError({
          api: "gettoken",
          errcode: NO_ERRCODE,
          errmsg: "no access_token in the answer",
          kind: "retry",
          message: "WeCom gettoken answered errcode 0 without an access_token. " +
            "The call is retried later; check api_base if this persists.",
        });
      }
    } catch (error) {
      counters.fetchFailures++;
      options.onTokenFetch?.(app, "error");
      if (error instanceof WeComApiError && error.kind === "credentials") {
        await recordCredentialFailure(app, error, started);
      }
      throw error;
    }
    options.onTokenFetch?.(app, "ok");
    const expiresIn = Number(answer.expires_in);
    const lifetimeMs = (Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 7200) * 1000;
    const value: CachedAccessToken = {
      token: answer.access_token,
      expiresAt: started + lifetimeMs,
      refreshAt: started + lifetimeMs - Math.min(refreshAheadMs, lifetimeMs / 2),
    };
    await commit(() =>
      kv.atomic()
        .set(keys.accessToken(app.corpId, app.agentId), value)
        .delete(keys.credentialFailure(app.corpId, app.agentId))
    );
    revoked.delete(appId(app));
    fresh.set(appId(app), value);
    log("info", "WeCom access token fetched", {
      app: app.name,
      agentId: app.agentId,
      expiresInSeconds: lifetimeMs / 1000,
    });
    return value.token;
  }

  async function recordCredentialFailure(
    app: AppConfig,
    error: WeComApiError,
    at: number,
  ): Promise<void> {
    const failure: CredentialFailure = {
      errcode: error.errcode,
      errmsg: error.errmsg,
      message: error.message,
      fingerprint: await secretFingerprint(app),
      at,
      expiresAt: at + backoffMs,
    };
    await commit(() => kv.atomic().set(keys.credentialFailure(app.corpId, app.agentId), failure));
    log("error", `WeCom refused the credentials of app '${app.name}': ${error.message}`, {
      app: app.name,
      agentId: app.agentId,
      errcode: error.errcode,
      retryAfter: new Date(failure.expiresAt).toISOString(),
    });
  }

  /** The slow path: cached, else wait for another refresher, else claim the lock and fetch. */
  async function obtain(app: AppConfig): Promise<string> {
    const tokenKey = keys.accessToken(app.corpId, app.agentId);
    const lockKey = keys.accessTokenLock(app.corpId, app.agentId);
    const failureKey = keys.credentialFailure(app.corpId, app.agentId);
    const waitStarted = Date.now();
    let fingerprint: string | undefined;
    while (true) {
      const t = now();
      const [tokenEntry, lockEntry, failureEntry] = await kv.getMany<
        [CachedAccessToken, AccessTokenLock, CredentialFailure]
      >([tokenKey, lockKey, failureKey]);
      const cached = tokenEntry.value;
      const usable = cached !== null && cached.expiresAt > t;
      if (usable && cached.refreshAt > t) {
        if (revoked.get(appId(app)) !== cached.token) fresh.set(appId(app), cached);
        return cached.token;
      }

      const failure = failureEntry.value;
      if (failure !== null && failure.expiresAt > t) {
        fingerprint ??= await secretFingerprint(app);
        if (failure.fingerprint === fingerprint) {
          if (usable) return cached.token;
          throw stickyError(failure);
        }
      }

      const lock = lockEntry.value;
      if (lock !== null && lock.until > t && Date.now() - waitStarted < maxWaitMs) {
        // Another process is refreshing: use the current token while it lasts, else wait.
        if (usable) return cached.token;
        await new Promise((resolve) => setTimeout(resolve, pollMs));
        continue;
      }

      const claim = await commit(() =>
        kv.atomic().check(lockEntry).set(lockKey, { owner, until: t + lockLeaseMs })
      );
      if (!claim.ok) continue;
      try {
        return await fetchAndStore(app);
      } catch (error) {
        if (usable && !(error instanceof WeComApiError && error.kind === "credentials")) {
          log(
            "warn",
            "WeCom access token refresh failed; using the current token until it expires",
            {
              app: app.name,
              error: error instanceof Error ? error.message : String(error),
            },
          );
          return cached.token;
        }
        throw error;
      } finally {
        await commit(() =>
          kv.atomic().check({ key: lockKey, versionstamp: claim.versionstamp }).delete(lockKey)
        );
      }
    }
  }

  function shared(app: AppConfig): Promise<string> {
    const id = appId(app);
    const known = fresh.get(id);
    if (known !== undefined) {
      if (known.refreshAt > now()) return Promise.resolve(known.token);
      fresh.delete(id);
    }
    let flight = inflight.get(id);
    if (!flight) {
      flight = obtain(app).finally(() => inflight.delete(id));
      inflight.set(id, flight);
    }
    return flight;
  }

  return {
    async get(app, staleToken) {
      const token = await shared(app);
      // A flight begun before the caller invalidated its token may still return it.
      if (staleToken !== undefined && token === staleToken) return await shared(app);
      return token;
    },

    async invalidate(app, staleToken) {
      revoked.set(appId(app), staleToken);
      if (fresh.get(appId(app))?.token === staleToken) fresh.delete(appId(app));
      const key = keys.accessToken(app.corpId, app.agentId);
      const entry = await kv.get<CachedAccessToken>(key);
      if (entry.value?.token !== staleToken) return false;
      const result = await commit(() => kv.atomic().check(entry).delete(key));
      return result.ok;
    },

    fetchNow(app) {
      return fetchAndStore(app);
    },

    stats() {
      return { ...counters };
    },
  };
}

function stickyError(failure: CredentialFailure): WeComApiError {
  return new WeComApiError({
    api: "gettoken",
    errcode: failure.errcode,
    errmsg: failure.errmsg,
    kind: "credentials",
    message: `${failure.message} (gettoken paused since ${new Date(failure.at).toISOString()}; ` +
      `next attempt after ${new Date(failure.expiresAt).toISOString()} unless the secret changes.)`,
  });
}

/**
 * A fingerprint of an app's corp id and secret (hex SHA-256, first 128 bits),
 * used to notice a changed secret without storing it.
 *
 * @example Usage
 * ```ts ignore
 * import { secretFingerprint } from "./token.ts";
 * const a = await secretFingerprint(app);
 * const b = await secretFingerprint({ ...app, corpSecret: "new" });
 * console.assert(a !== b);
 * ```
 */
export async function secretFingerprint(app: Pick<AppConfig, "corpId" | "corpSecret">) {
  const data = new TextEncoder().encode(`wecom-gateway\u0000${app.corpId}\u0000${app.corpSecret}`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(digest.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The app's recorded credential failure (gettoken paused while it lasts), or
 * null when none is recorded. Expired records are returned too: compare
 * `expiresAt` with the time.
 *
 * @example Usage
 * ```ts
 * import { readCredentialFailure } from "./token.ts";
 * const kv = await Deno.openKv(":memory:");
 * console.assert(await readCredentialFailure(kv, { corpId: "ww1", agentId: "1" }) === null);
 * kv.close();
 * ```
 */
export async function readCredentialFailure(
  kv: Deno.Kv,
  app: Pick<AppConfig, "corpId" | "agentId">,
): Promise<CredentialFailure | null> {
  return (await kv.get<CredentialFailure>(keys.credentialFailure(app.corpId, app.agentId))).value;
}

/**
 * The app's cached access token record, or null when none is cached. For
 * status output: callers that send use {@linkcode TokenCache.get}.
 *
 * @example Usage
 * ```ts
 * import { readCachedToken } from "./token.ts";
 * const kv = await Deno.openKv(":memory:");
 * console.assert(await readCachedToken(kv, { corpId: "ww1", agentId: "1" }) === null);
 * kv.close();
 * ```
 */
export async function readCachedToken(
  kv: Deno.Kv,
  app: Pick<AppConfig, "corpId" | "agentId">,
): Promise<CachedAccessToken | null> {
  return (await kv.get<CachedAccessToken>(keys.accessToken(app.corpId, app.agentId))).value;
}

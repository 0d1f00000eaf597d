import assert from "node:assert/strict";
import type { AppConfig } from "../../src/config/types.ts";
import { keys } from "../../src/store/keys.ts";
import {
  type CachedAccessToken,
  createTokenCache,
  secretFingerprint,
  type TokenCacheOptions,
} from "../../src/wecom/token.ts";
import {
  fakeAppConfig,
  type FakeWeComApi,
  type FakeWeComOptions,
  startFakeWeComApi,
} from "../../src/simulator/wecom_api.ts";

interface Fixture extends AsyncDisposable {
  api: FakeWeComApi;
  kv: Deno.Kv;
  app: AppConfig;
  clock: { t: number };
  cache(options?: Partial<TokenCacheOptions>): ReturnType<typeof createTokenCache>;
}

async function fixture(fakeOptions: FakeWeComOptions = {}): Promise<Fixture> {
  const clock = { t: 1_700_000_000_000 };
  const now = () => clock.t;
  const api = startFakeWeComApi({ now, ...fakeOptions });
  const kv = await Deno.openKv(":memory:");
  return {
    api,
    kv,
    app: fakeAppConfig(api.url),
    clock,
    cache: (options = {}) => createTokenCache({ kv, now, log: () => {}, ...options }),
    async [Symbol.asyncDispose]() {
      kv.close();
      await api.close();
    },
  };
}

Deno.test("invalidate deletes the cached token only if it is still the stale one", async () => {
  await using f = await fixture();
  const tokens = f.cache();
  const token = await tokens.get(f.app);
  assert.equal(await tokens.invalidate(f.app, "some-older-token"), false);
  assert.equal(await tokens.get(f.app), token, "a newer token survives a late invalidation");
  assert.equal(f.api.gettokenCalls(), 1);

  assert.equal(await tokens.invalidate(f.app, token), true);
  const fresh = await tokens.get(f.app, token);
  assert.notEqual(fresh, token);
  assert.equal(f.api.gettokenCalls(), 2);
});

Deno.test("a fresh token is kept in memory until invalidated; then KV is read again", async () => {
  await using f = await fixture();
  const tokenKey = keys.accessToken(f.app.corpId, f.app.agentId);
  const tokens = f.cache();
  const ours = await tokens.get(f.app);
  // Another process refetched the token (which may have made ours invalid).
  const theirs: CachedAccessToken = {
    token: "token-of-another-process",
    expiresAt: f.clock.t + 7_200_000,
    refreshAt: f.clock.t + 6_900_000,
  };
  await f.kv.set(tokenKey, theirs);
  assert.equal(await tokens.get(f.app), ours, "served from memory: no KV read per send");
  // WeCom answered 40014 for ours: the caller invalidates it, and the next get reads KV.
  assert.equal(await tokens.invalidate(f.app, ours), false, "KV already holds another token");
  assert.equal(await tokens.get(f.app, ours), theirs.token);
  assert.equal(f.api.gettokenCalls(), 1, "no gettoken: the other process's token is used");
  // A token past its refresh time in memory is not used: KV (then gettoken) decides.
  f.clock.t = theirs.refreshAt + 1;
  const refreshed = await tokens.get(f.app);
  assert.notEqual(refreshed, theirs.token);
  assert.equal(f.api.gettokenCalls(), 2);
  assert.equal((await f.kv.get<CachedAccessToken>(tokenKey)).value?.token, refreshed);
});

Deno.test("a token being invalidated is not put back in memory by a send reading KV meanwhile", async () => {
  await using f = await fixture();
  const tokens = f.cache();
  const ours = await tokens.get(f.app);
  // WeCom answered 40014 for ours; while the invalidation reads and deletes the KV row, another
  // send finds nothing in memory and reads KV, where ours still is.
  const invalidating = tokens.invalidate(f.app, ours);
  const meanwhile = tokens.get(f.app);
  await Promise.all([invalidating, meanwhile]);
  const next = await tokens.get(f.app, ours);
  assert.notEqual(next, ours, "the revoked token is not served again");
  assert.equal(await tokens.get(f.app), next, "and the new one is what every send gets");
  assert.equal(f.api.gettokenCalls(), 2);
});

Deno.test("an expired lock of a crashed process is taken over at once", async () => {
  await using f = await fixture();
  const lockKey = keys.accessTokenLock(f.app.corpId, f.app.agentId);
  await f.kv.set(lockKey, { owner: "crashed", until: f.clock.t - 1 });
  const started = performance.now();
  await f.cache().get(f.app);
  assert.ok(performance.now() - started < 1_000);
  assert.equal(f.api.gettokenCalls(), 1);
  assert.equal((await f.kv.get(lockKey)).value, null);
});

Deno.test("a waiter polls for the token another process fetches", async () => {
  await using f = await fixture();
  const lockKey = keys.accessTokenLock(f.app.corpId, f.app.agentId);
  await f.kv.set(lockKey, { owner: "other", until: f.clock.t + 60_000 });
  const waiting = f.cache({ pollMs: 10 }).get(f.app);
  await new Promise((resolve) => setTimeout(resolve, 60));
  const value: CachedAccessToken = {
    token: "from-the-other-process",
    expiresAt: f.clock.t + 7_200_000,
    refreshAt: f.clock.t + 6_900_000,
  };
  await f.kv.atomic().set(keys.accessToken(f.app.corpId, f.app.agentId), value).delete(lockKey)
    .commit();
  assert.equal(await waiting, "from-the-other-process");
  assert.equal(f.api.gettokenCalls(), 0);
});

Deno.test("a lock held past the wait limit is taken over", async () => {
  await using f = await fixture();
  const lockKey = keys.accessTokenLock(f.app.corpId, f.app.agentId);
  await f.kv.set(lockKey, { owner: "stuck", until: f.clock.t + 3_600_000 });
  const started = performance.now();
  const token = await f.cache({ pollMs: 10, maxWaitMs: 120 }).get(f.app);
  assert.ok(performance.now() - started >= 110, "it waited for the other process first");
  assert.equal(token, [...f.api.state.tokens.keys()][0]);
  assert.equal(f.api.gettokenCalls(), 1);
});

Deno.test("a short-lived token is refreshed at half its life, not on every call", async () => {
  await using f = await fixture({ tokenTtlSeconds: 120 });
  const fetched: string[] = [];
  const tokens = f.cache({ onTokenFetch: (_app, outcome) => fetched.push(outcome) });
  await tokens.get(f.app);
  f.clock.t += 59_000;
  await tokens.get(f.app);
  assert.equal(f.api.gettokenCalls(), 1);
  f.clock.t += 2_000;
  await tokens.get(f.app);
  assert.equal(f.api.gettokenCalls(), 2);
  assert.deepEqual(fetched, ["ok", "ok"]);
  assert.deepEqual(tokens.stats(), { fetches: 2, fetchFailures: 0 });
});

Deno.test("concurrent callers in one process share one fetch, even a failing one", async () => {
  await using f = await fixture();
  f.api.inject("gettoken", [{ delayMs: 50 }, { errcode: -1 }]);
  const tokens = f.cache();
  const results = await Promise.all(Array.from({ length: 20 }, () => tokens.get(f.app)));
  assert.equal(new Set(results).size, 1);
  const failures = await Promise.allSettled(
    Array.from({ length: 5 }, () => tokens.get({ ...f.app, agentId: "1000003" })),
  );
  assert.ok(failures.every((r) => r.status === "rejected"));
  assert.equal(f.api.gettokenCalls(), 2);
  assert.deepEqual(tokens.stats(), { fetches: 2, fetchFailures: 1 });
});

Deno.test("secretFingerprint changes with the secret and does not reveal it", async () => {
  const app = { corpId: "ww1", corpSecret: "s3cr3t-value" };
  const a = await secretFingerprint(app);
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.equal(await secretFingerprint({ ...app }), a);
  assert.notEqual(await secretFingerprint({ ...app, corpSecret: "s3cr3t-valuf" }), a);
  assert.notEqual(await secretFingerprint({ ...app, corpId: "ww2" }), a);
});

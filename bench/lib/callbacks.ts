/**
 * Benchmark traffic: apps with fresh random credentials and callbacks sealed
 * exactly as WeCom sends them (encrypted, signed), prepared before any timing.
 *
 * @example Usage
 * ```ts ignore
 * import { benchApps, sealCallbacks } from "./callbacks.ts";
 * const apps = benchApps(3);
 * const callbacks = await sealCallbacks(apps, 1000);
 * console.assert(new Set(callbacks.map((c) => c.msgId)).size === 1000);
 * ```
 *
 * @module
 */

import type { AppConfig } from "../../src/config/types.ts";
import { importAppCrypto } from "../../src/crypto/mod.ts";
import { sealCallback, textMessage } from "../../src/simulator/seal.ts";
import { type FakeWeComApi, startFakeWeComApi } from "../../src/simulator/wecom_api.ts";
import { blockYaml } from "./yaml_text.ts";

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

function randomAlnum(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return Array.from(bytes, (b) => ALNUM[b % ALNUM.length]).join("");
}

/** `count` apps named `app-1`… with fresh random credentials, each in its own corp. */
export function benchApps(count: number): AppConfig[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `app-${i + 1}`,
    corpId: "ww" + randomAlnum(16).toLowerCase(),
    corpSecret: randomAlnum(43),
    agentId: String(1000002 + i),
    token: randomAlnum(32),
    encodingAesKey: randomAlnum(43),
    apiBase: "http://127.0.0.1:9",
  }));
}

/** The message sizes sent, cycled in this order. */
export const SIZES = ["short", "1k", "4k-cjk"] as const;
/** One of {@linkcode SIZES}. */
export type SizeKind = typeof SIZES[number];

const SHORT = "在吗？帮我看一下这个报错 thanks";
const ONE_KB = "The deploy failed at step 3 with exit code 137; logs attached below. ".repeat(15)
  .slice(0, 1024);
const FOUR_KB_CJK = "请帮我总结一下今天的会议纪要并列出后续行动项目。".repeat(60).slice(0, 1365); // 4095 B

function contentOf(size: SizeKind): string {
  return size === "short" ? SHORT : size === "1k" ? ONE_KB : FOUR_KB_CJK;
}

/** A callback ready to POST: `?query` and XML envelope. */
export interface BenchCallback {
  app: string;
  size: SizeKind;
  msgId: string;
  query: string;
  body: string;
}

/**
 * Seals `count` distinct text callbacks (distinct MsgId), cycling through
 * `apps` and {@linkcode SIZES}, from `options.users` different users
 * (default 500; 0 = every callback from its own user), named
 * `<userPrefix><n>` (default `user`).
 */
export async function sealCallbacks(
  apps: AppConfig[],
  count: number,
  options: { timestamp?: number; users?: number; userPrefix?: string } = {},
): Promise<BenchCallback[]> {
  const users = options.users === 0 ? Infinity : options.users ?? 500;
  const cryptos = await Promise.all(
    apps.map((app) => importAppCrypto(app.encodingAesKey, app.token, app.corpId)),
  );
  const createTime = options.timestamp ?? Math.floor(Date.now() / 1000);
  // A random 64-bit-looking base so runs never share MsgIds.
  const base = 4_000_000_000_000_000_000n +
    BigInt(crypto.getRandomValues(new Uint32Array(1))[0]) * 1_000_000_000n;
  const out: BenchCallback[] = new Array(count);
  const batch = 256;
  for (let start = 0; start < count; start += batch) {
    const end = Math.min(count, start + batch);
    const sealed = await Promise.all(
      Array.from({ length: end - start }, async (_, k) => {
        const i = start + k;
        const a = i % apps.length;
        const app = apps[a];
        const size = SIZES[Math.floor(i / apps.length) % SIZES.length];
        const msgId = String(base + BigInt(i));
        const xml = textMessage({
          corpId: app.corpId,
          agentId: app.agentId,
          userId: `${options.userPrefix ?? "user"}${users === Infinity ? i : i % users}`,
          createTime,
          content: contentOf(size),
          msgId,
        });
        const { query, body } = await sealCallback(cryptos[a], xml, {
          corpId: app.corpId,
          agentId: app.agentId,
          timestamp: String(createTime),
        });
        return { app: app.name, size, msgId, query, body };
      }),
    );
    for (let k = 0; k < sealed.length; k++) out[start + k] = sealed[k];
  }
  return out;
}

/**
 * A gateway config file (block YAML, as users write it) in the Hermes layout with `apps` as an
 * `apps:` list, each pointing at `apiBase` when given, `extra` keys (e.g.
 * `replay_window_seconds`) beside the list and `top` sections (`agent`,
 * `gateway`) at the top level.
 */
export function appsConfigFile(
  apps: AppConfig[],
  options: {
    apiBase?: string;
    extra?: Record<string, unknown>;
    top?: Record<string, unknown>;
  } = {},
): string {
  return blockYaml({
    platforms: {
      wecom_callback: {
        extra: {
          apps: apps.map((app) => ({
            name: app.name,
            corp_id: app.corpId,
            corp_secret: app.corpSecret,
            agent_id: app.agentId,
            token: app.token,
            encoding_aes_key: app.encodingAesKey,
            ...(options.apiBase ? { api_base: options.apiBase } : {}),
          })),
          ...options.extra,
        },
      },
    },
    ...options.top,
  });
}

/** One message per user: what is sent, and the reply it must bring back. */
export interface UserMessage {
  callback: BenchCallback;
  agentId: string;
  userId: string;
  content: string;
}

/**
 * Seals one text callback for each of `count` users `<prefix><i>`, cycling
 * through `apps`, each with its own text (an echo agent sends it back).
 */
export async function sealUsers(
  apps: AppConfig[],
  prefix: string,
  count: number,
): Promise<UserMessage[]> {
  const cryptos = await Promise.all(
    apps.map((app) => importAppCrypto(app.encodingAesKey, app.token, app.corpId)),
  );
  const createTime = Math.floor(Date.now() / 1000);
  const base = 5_000_000_000_000_000_000n +
    BigInt(crypto.getRandomValues(new Uint32Array(1))[0]) * 1_000_000_000n;
  return await Promise.all(Array.from({ length: count }, async (_, i) => {
    const app = apps[i % apps.length];
    const userId = `${prefix}${i}`;
    const content = `round trip ${i} 往返 ${prefix}`;
    const msgId = String(base + BigInt(i));
    const xml = textMessage({
      corpId: app.corpId,
      agentId: app.agentId,
      userId,
      createTime,
      content,
      msgId,
    });
    const { query, body } = await sealCallback(cryptos[i % apps.length], xml, {
      corpId: app.corpId,
      agentId: app.agentId,
      timestamp: String(createTime),
    });
    return {
      callback: { app: app.name, size: "short", msgId, query, body },
      agentId: app.agentId,
      userId,
      content,
    };
  }));
}

/**
 * The simulated WeCom API on loopback, knowing `apps`' credentials (the
 * benchmarks' gateways point `api_base` at its `url`).
 *
 * @example Usage
 * ```ts ignore
 * const api = startBenchApi(benchApps(3));
 * await api.close();
 * ```
 */
export function startBenchApi(apps: AppConfig[]): FakeWeComApi {
  return startFakeWeComApi({
    apps: apps.map((app) => ({
      corpId: app.corpId,
      corpSecret: app.corpSecret,
      agentId: app.agentId,
    })),
  });
}

/**
 * Gateway configurations for tests: the real loader's defaults, with the
 * shared known-answer apps or freshly generated keys.
 *
 * @module
 */

import { loadConfig } from "../../src/config/load.ts";
import type { AppConfig, GatewayConfig } from "../../src/config/types.ts";

/** Vector set A of the shared WeCom crypto vectors (WeCom's documentation example). */
export const VECTOR_APP_A: AppConfig = {
  name: "vector-a",
  corpId: "wx5823bf96d3bd56c7",
  corpSecret: "secret-a",
  agentId: "218",
  token: "QDG6eK",
  encodingAesKey: "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
  apiBase: "http://127.0.0.1:9",
};

/** Vector set B (Tencent's official Python sample). */
export const VECTOR_APP_B: AppConfig = {
  name: "vector-b",
  corpId: "ww1436e0e65a779aee",
  corpSecret: "secret-b",
  agentId: "1000002",
  token: "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo",
  encodingAesKey: "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
  apiBase: "http://127.0.0.1:9",
};

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Random letters and digits, as WeCom generates tokens and keys. */
export function randomAlnum(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return Array.from(bytes, (b) => ALNUM[b % ALNUM.length]).join("");
}

/** An app with fresh random credentials. */
export function randomApp(overrides: Partial<AppConfig> = {}): AppConfig {
  return {
    name: "fresh",
    corpId: "ww" + randomAlnum(16).toLowerCase(),
    corpSecret: randomAlnum(43),
    agentId: String(1000000 + Math.floor(Math.random() * 1000)),
    token: randomAlnum(32),
    encodingAesKey: randomAlnum(43),
    apiBase: "http://127.0.0.1:9",
    ...overrides,
  };
}

/**
 * A validated configuration from the real loader (defaults included), with
 * `apps`, everyone allowed, port 0 on 127.0.0.1, KV in memory and no operator listener
 * (tests that want one set `operator`), then `overrides`.
 */
export async function testConfig(
  apps: AppConfig[],
  overrides: Partial<GatewayConfig> = {},
): Promise<GatewayConfig> {
  const first = apps[0] ?? randomApp();
  const base = await loadConfig({
    args: [],
    cwd: Deno.cwd() + "/tests/fakes/empty-dir-that-does-not-exist",
    env: {
      WECOM_CALLBACK_CORP_ID: first.corpId,
      WECOM_CALLBACK_CORP_SECRET: first.corpSecret,
      WECOM_CALLBACK_AGENT_ID: first.agentId,
      WECOM_CALLBACK_TOKEN: first.token,
      WECOM_CALLBACK_ENCODING_AES_KEY: first.encodingAesKey,
      WECOM_CALLBACK_HOST: "127.0.0.1",
      WECOM_CALLBACK_PORT: "0",
      WECOM_CALLBACK_ALLOW_ALL_USERS: "true",
      WECOM_GATEWAY_KV: ":memory:",
      WECOM_GATEWAY_OPERATOR_PORT: "0",
    },
  });
  return { ...base, apps, ...overrides };
}

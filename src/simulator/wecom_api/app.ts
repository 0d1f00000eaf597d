/**
 * The app the simulated WeCom API knows by default, and an `AppConfig` that
 * points the gateway at a running fake.
 *
 * @example Usage
 * ```ts ignore
 * import { fakeAppConfig } from "./app.ts";
 * const app = fakeAppConfig(api.url, { corpSecret: "wrong" });
 * ```
 *
 * @module
 */

import type { AppConfig } from "../../config/types.ts";
import type { FakeApp } from "./types.ts";

/** The app the fake knows when `apps` is not given. */
export const FAKE_APP: FakeApp = {
  corpId: "wwfake0000000001",
  corpSecret: "fake-secret-0123456789abcdefghijklmnopqrstu",
  agentId: "1000002",
};

/**
 * An `AppConfig` pointing at the fake (the callback token and AES key are
 * placeholders of the right shape).
 *
 * @example Usage
 * ```ts ignore
 * const app = fakeAppConfig(api.url, { corpSecret: "wrong" });
 * ```
 */
export function fakeAppConfig(
  url: string,
  overrides: Partial<AppConfig> = {},
  fake: FakeApp = FAKE_APP,
): AppConfig {
  return {
    name: "default",
    corpId: fake.corpId,
    corpSecret: fake.corpSecret,
    agentId: fake.agentId,
    token: "faketoken0123456789",
    encodingAesKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    apiBase: url,
    ...overrides,
  };
}

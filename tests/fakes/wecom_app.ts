/**
 * The simulated WeCom API with one app of fresh credentials, and callbacks
 * sealed for that app exactly as WeCom sends them. The app's `apiBase` points
 * at the simulated API, so a gateway configured with it talks to the fake.
 *
 * @example Usage
 * ```ts ignore
 * import { startFakeWeComApp } from "./wecom_app.ts";
 * const wecom = await startFakeWeComApp({ name: "main" });
 * const sealed = await wecom.sealText("lisi", "hello", "1");
 * await fetch(`${callbackUrl}?${sealed.query}`, { method: "POST", body: sealed.body });
 * await wecom.api.close();
 * ```
 *
 * @module
 */

import type { AppConfig } from "../../src/config/types.ts";
import { importAppCrypto } from "../../src/crypto/mod.ts";
import { sealCallback, type SealedCallback, textMessage } from "../../src/simulator/seal.ts";
import {
  type FakeWeComApi,
  type FakeWeComOptions,
  startFakeWeComApi,
} from "../../src/simulator/wecom_api.ts";
import { randomApp } from "./config.ts";

/** Options of {@linkcode startFakeWeComApp}. */
export interface FakeWeComAppOptions {
  /** The app's name (default `main`). */
  name?: string;
  /** Options of the simulated API (`apps` is the one app). */
  api?: Omit<FakeWeComOptions, "apps">;
}

/** A running simulated WeCom API and its one app. */
export interface FakeWeComApp {
  /** The app, `apiBase` set to the simulated API. */
  app: AppConfig;
  api: FakeWeComApi;
  /** Seals `xml` as WeCom posts it to the app's callback (timestamp: now, or epoch seconds). */
  seal(xml: string, timestamp?: number): Promise<SealedCallback>;
  /** A sealed text message from `userId` (timestamp: now, or epoch seconds). */
  sealText(
    userId: string,
    content: string,
    msgId: string,
    timestamp?: number,
  ): Promise<SealedCallback>;
}

/**
 * Starts the simulated WeCom API on 127.0.0.1 with one app of fresh
 * credentials; close it with `api.close()`.
 *
 * @example Usage
 * ```ts ignore
 * const { app, api } = await startFakeWeComApp({ api: { tokenTtlSeconds: 60 } });
 * await api.close();
 * ```
 */
export async function startFakeWeComApp(
  options: FakeWeComAppOptions = {},
): Promise<FakeWeComApp> {
  const seed = randomApp({ name: options.name ?? "main" });
  const api = startFakeWeComApi({
    ...options.api,
    apps: [{ corpId: seed.corpId, corpSecret: seed.corpSecret, agentId: seed.agentId }],
  });
  const app: AppConfig = { ...seed, apiBase: api.url };
  const crypto = await importAppCrypto(app.encodingAesKey, app.token, app.corpId);
  const seal = (xml: string, timestamp?: number) =>
    sealCallback(crypto, xml, {
      corpId: app.corpId,
      agentId: app.agentId,
      timestamp: timestamp === undefined ? undefined : String(timestamp),
    });
  return {
    app,
    api,
    seal,
    sealText: (userId, content, msgId, timestamp) =>
      seal(
        textMessage({ corpId: app.corpId, agentId: app.agentId, userId, content, msgId }),
        timestamp,
      ),
  };
}

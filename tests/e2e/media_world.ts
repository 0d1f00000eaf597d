/**
 * The world of the media end-to-end tests: a simulated WeCom API, a gateway
 * started in this process against it (agent, config overrides as the test
 * needs), a temporary attachment store and upload root, and helpers that seal
 * and post any message or event exactly as WeCom does.
 *
 * @module
 */

import type { AppConfig, GatewayConfig } from "../../src/config/types.ts";
import { importAppCrypto } from "../../src/crypto/mod.ts";
import { type Gateway, startGateway } from "../../src/gateway.ts";
import { anyMessage, eventMessage, sealCallback, textMessage } from "../../src/simulator/seal.ts";
import {
  type FakeMessage,
  type FakeWeComApi,
  type FakeWeComOptions,
  startFakeWeComApi,
} from "../../src/simulator/wecom_api.ts";
import { randomApp, testConfig } from "../fakes/config.ts";

/** A started world. */
export interface MediaWorld {
  app: AppConfig;
  api: FakeWeComApi;
  gateway: Gateway;
  config: GatewayConfig;
  /** Temporary folder: `store` (attachment store) and `out` (an upload root) are inside. */
  tmp: string;
  store: string;
  out: string;
  /** Posts a decrypted body as WeCom would; returns the HTTP status. */
  post(xml: string): Promise<number>;
  text(userId: string, content: string, msgId: string): Promise<number>;
  message(
    userId: string,
    msgType: string,
    fields: Record<string, string>,
    createTime?: number,
  ): Promise<number>;
  event(
    userId: string,
    event: string,
    options?: { eventKey?: string; createTime?: number },
  ): Promise<number>;
  /** Messages delivered to `userId`. */
  delivered(userId: string): FakeMessage[];
  /** Text and markdown contents delivered to `userId`. */
  texts(userId: string): string[];
  waitFor(check: () => boolean, what: string, ms?: number): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@linkcode mediaWorld}. */
export interface MediaWorldOptions {
  /** Changes to the loaded config (after the store and upload root are set). */
  configure?: (config: GatewayConfig, paths: { store: string; out: string }) => void;
  api?: Omit<FakeWeComOptions, "apps">;
}

/** Starts a world; `close()` stops everything and removes the temporary folder. */
export async function mediaWorld(options: MediaWorldOptions = {}): Promise<MediaWorld> {
  const tmp = await Deno.realPath(await Deno.makeTempDir({ prefix: "wecom-media-e2e-" }));
  const store = `${tmp}/store`;
  const out = `${tmp}/out`;
  await Deno.mkdir(out, { recursive: true });
  const seed = randomApp({ name: "main" });
  const api = startFakeWeComApi({
    ...options.api,
    apps: [{ corpId: seed.corpId, corpSecret: seed.corpSecret, agentId: seed.agentId }],
  });
  const app = { ...seed, apiBase: api.url };
  const config = await testConfig([app]);
  config.jobs = { ...config.jobs, pollMs: 50, workingNoticeMs: 0 };
  config.media = { ...config.media, dir: store, uploadRoots: [out] };
  options.configure?.(config, { store, out });
  const gateway = await startGateway(config, { deliveryPollMs: 50, backoffBaseMs: 20 });
  const crypto = await importAppCrypto(app.encodingAesKey, app.token, app.corpId);
  const base = `http://127.0.0.1:${gateway.address!.port}/wecom/callback`;
  const party = (userId: string, createTime?: number) => ({
    corpId: app.corpId,
    agentId: app.agentId,
    userId,
    createTime,
  });

  async function post(xml: string): Promise<number> {
    const sealed = await sealCallback(crypto, xml, { corpId: app.corpId, agentId: app.agentId });
    const response = await fetch(`${base}?${sealed.query}`, { method: "POST", body: sealed.body });
    await response.body?.cancel();
    return response.status;
  }

  return {
    app,
    api,
    gateway,
    config,
    tmp,
    store,
    out,
    post,
    text: (userId, content, msgId) => post(textMessage({ ...party(userId), content, msgId })),
    message: (userId, msgType, fields, createTime) =>
      post(anyMessage({ ...party(userId, createTime), msgType, fields })),
    event: (userId, event, eventOptions = {}) =>
      post(eventMessage({ ...party(userId, eventOptions.createTime), event, ...eventOptions })),
    delivered: (userId) => api.delivered(userId),
    texts: (userId) =>
      api.delivered(userId)
        .filter((m) => m.msgtype === "text" || m.msgtype === "markdown")
        .map((m) => String(m.payload.content ?? "")),
    async waitFor(check, what, ms = 8000) {
      const deadline = Date.now() + ms;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async close() {
      await gateway.stop({ graceMs: 1000 });
      await api.close();
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    },
  };
}

/** Waits `ms` (to show that something does not happen). */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A whole gateway started in this process against the simulated WeCom API,
 * with short poll and back-off intervals, and helpers that post messages and
 * events exactly as WeCom does and wait for what the gateway sends back.
 *
 * @example Usage
 * ```ts ignore
 * import { startWorld } from "./world.ts";
 * import { waitFor } from "../lib/wait.ts";
 * const w = await startWorld();
 * try {
 *   await w.text("lisi", "hello", "1");
 *   await waitFor(() => w.texts("lisi").length === 1, "the reply");
 * } finally {
 *   await w.close();
 * }
 * ```
 *
 * @module
 */

import type { GatewayConfig } from "../../src/config/types.ts";
import { type Gateway, type GatewayOptions, startGateway } from "../../src/gateway.ts";
import { anyMessage, eventMessage, type SealedCallback } from "../../src/simulator/seal.ts";
import type { FakeMessage } from "../../src/simulator/wecom_api.ts";
import { testConfig } from "./config.ts";
import { type FakeWeComApp, type FakeWeComAppOptions, startFakeWeComApp } from "./wecom_app.ts";

/** A started world: the simulated API and its app (with sealing), and the gateway. */
export interface World extends FakeWeComApp {
  gateway: Gateway;
  config: GatewayConfig;
  /** The gateway's callback URL. */
  callbackUrl: string;
  /** POSTs a sealed callback (or any query and body) to the gateway; returns the HTTP status. */
  postSealed(sealed: SealedCallback): Promise<number>;
  /** Seals and posts a decrypted body as WeCom would; returns the HTTP status. */
  post(xml: string): Promise<number>;
  /** Posts a text message from `userId`; returns the HTTP status. */
  text(userId: string, content: string, msgId: string): Promise<number>;
  /** Posts a message of any type from `userId`; returns the HTTP status. */
  message(
    userId: string,
    msgType: string,
    fields: Record<string, string>,
    createTime?: number,
  ): Promise<number>;
  /** Posts an event from `userId`; returns the HTTP status. */
  event(
    userId: string,
    event: string,
    options?: { eventKey?: string; createTime?: number },
  ): Promise<number>;
  /** Messages delivered to `userId`. */
  delivered(userId: string): FakeMessage[];
  /** Text and markdown contents delivered to `userId`. */
  texts(userId: string): string[];
  /** Stops the gateway (1 s grace) and the simulated API. */
  close(): Promise<void>;
}

/** Options of {@linkcode startWorld}. */
export interface WorldOptions extends FakeWeComAppOptions {
  /** Changes to the configuration before the gateway starts. */
  configure?: (config: GatewayConfig) => void;
  /** Options of the gateway (default: delivery polled every 50 ms, back-off from 20 ms). */
  gateway?: GatewayOptions;
}

/**
 * Starts the simulated API with one app (`main`), and a gateway for it with
 * everyone allowed, KV in memory, jobs polled every 50 ms and no working notice.
 *
 * @example Usage
 * ```ts ignore
 * const w = await startWorld({ gateway: { ipBackoffBaseMs: 10 } });
 * await w.close();
 * ```
 */
export async function startWorld(options: WorldOptions = {}): Promise<World> {
  const wecom = await startFakeWeComApp(options);
  const { app, api, seal, sealText } = wecom;
  const config = await testConfig([app]);
  config.jobs = { ...config.jobs, pollMs: 50, workingNoticeMs: 0 };
  options.configure?.(config);
  const gateway = await startGateway(config, {
    deliveryPollMs: 50,
    backoffBaseMs: 20,
    ...options.gateway,
  });
  const callbackUrl = `http://127.0.0.1:${gateway.address!.port}${config.path}`;
  const party = (userId: string, createTime?: number) => ({
    corpId: app.corpId,
    agentId: app.agentId,
    userId,
    createTime,
  });

  async function postSealed(sealed: SealedCallback): Promise<number> {
    const response = await fetch(`${callbackUrl}?${sealed.query}`, {
      method: "POST",
      body: sealed.body,
    });
    await response.body?.cancel();
    return response.status;
  }
  const post = async (xml: string) => await postSealed(await seal(xml));

  return {
    ...wecom,
    gateway,
    config,
    callbackUrl,
    postSealed,
    post,
    text: async (userId, content, msgId) =>
      await postSealed(await sealText(userId, content, msgId)),
    message: (userId, msgType, fields, createTime) =>
      post(anyMessage({ ...party(userId, createTime), msgType, fields })),
    event: (userId, event, eventOptions = {}) =>
      post(eventMessage({ ...party(userId, eventOptions.createTime), event, ...eventOptions })),
    delivered: (userId) => api.delivered(userId),
    texts: (userId) =>
      api.delivered(userId)
        .filter((m) => m.msgtype === "text" || m.msgtype === "markdown")
        .map((m) => String(m.payload.content ?? "")),
    async close() {
      await gateway.stop({ graceMs: 1000 });
      await api.close();
    },
  };
}

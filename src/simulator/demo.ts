/**
 * The demo environment: the whole gateway on one machine, talking to a
 * simulated WeCom, with no configuration and no WeCom account.
 *
 * - a demo app with a random corp id, secret, callback token and AES key
 *   (throwaway keys, valid for this run only);
 * - the simulated WeCom API (`./wecom_api.ts`) on 127.0.0.1, port 0, knowing
 *   that app;
 * - the gateway (`startGateway`), configured through `loadConfig` with the
 *   demo app's `WECOM_CALLBACK_*` variables, its API base pointed at the
 *   simulated API and everyone allowed; by default on 127.0.0.1, port 0, with
 *   KV in memory and the echo agent;
 * - a simulated member (`./user.ts`) who seals and POSTs messages like WeCom
 *   and gets back the replies the gateway delivered to them.
 *
 * @example Usage
 * ```ts ignore
 * import { startDemo } from "./demo.ts";
 * const demo = await startDemo();
 * try {
 *   const { replies } = await demo.user.send("你好, WeCom!");
 *   console.log(replies[0].content); // "你好, WeCom!" (the echo agent)
 * } finally {
 *   await demo.close();
 * }
 * ```
 *
 * @module
 */

import { loadConfig } from "../config/load.ts";
import type { AppConfig, GatewayConfig } from "../config/types.ts";
import { type Gateway, startGateway } from "../gateway.ts";
import { randomText } from "../crypto/generate.ts";
import { isConversationSettled } from "../records/conversation.ts";
import { createSimulatedUser, type SimulatedUser } from "./user.ts";
import { type FakeWeComApi, startFakeWeComApi } from "./wecom_api.ts";

/** The name of the demo app (its own callback path is `<path>/demo`). */
export const DEMO_APP_NAME = "demo";

/** The member the demo's simulated user is. */
export const DEMO_USER = "demo-user";

/**
 * The settings of the demo when the caller gives no environment: loopback,
 * an ephemeral port, KV in memory (nothing left behind) and the echo agent.
 */
export const DEMO_ENV: Readonly<Record<string, string>> = {
  WECOM_CALLBACK_HOST: "127.0.0.1",
  WECOM_CALLBACK_PORT: "0",
  WECOM_GATEWAY_KV: ":memory:",
  WECOM_GATEWAY_AGENT: "echo",
  WECOM_GATEWAY_OPERATOR_PORT: "0",
};

/** The credentials of a demo app. */
export type DemoApp = Pick<
  AppConfig,
  "corpId" | "corpSecret" | "agentId" | "token" | "encodingAesKey"
>;

/**
 * A demo app with fresh random credentials shaped like WeCom's: a `ww…` corp
 * id, a 43-character secret, an agent id, a 32-character token and a
 * 43-character AES key.
 *
 * @example Usage
 * ```ts
 * import { generateDemoApp } from "./demo.ts";
 * const app = generateDemoApp();
 * console.assert(app.corpId.startsWith("ww") && app.encodingAesKey.length === 43);
 * ```
 */
export function generateDemoApp(): DemoApp {
  return {
    corpId: "ww" + randomText(16, "0123456789abcdef"),
    corpSecret: randomText(43),
    agentId: String(1_000_002 + Math.floor(Math.random() * 1000)),
    token: randomText(32),
    encodingAesKey: randomText(43),
  };
}

/**
 * The environment variables that configure `app` as the gateway's single app,
 * talking to the WeCom API at `apiBase`, with everyone allowed.
 *
 * @example Usage
 * ```ts
 * import { demoAppEnv, generateDemoApp } from "./demo.ts";
 * const env = demoAppEnv(generateDemoApp(), "http://127.0.0.1:9");
 * console.assert(env.WECOM_CALLBACK_ALLOW_ALL_USERS === "true");
 * ```
 */
export function demoAppEnv(app: DemoApp, apiBase: string): Record<string, string> {
  return {
    WECOM_CALLBACK_CORP_ID: app.corpId,
    WECOM_CALLBACK_CORP_SECRET: app.corpSecret,
    WECOM_CALLBACK_AGENT_ID: app.agentId,
    WECOM_CALLBACK_TOKEN: app.token,
    WECOM_CALLBACK_ENCODING_AES_KEY: app.encodingAesKey,
    WECOM_CALLBACK_API_BASE: apiBase,
    WECOM_CALLBACK_ALLOW_ALL_USERS: "true",
  };
}

/** Options of {@linkcode startDemo}. */
export interface DemoOptions {
  /**
   * The environment the configuration is loaded from, under the demo app's
   * variables (default {@linkcode DEMO_ENV}). `serve`'s demo mode passes the
   * real environment, so the configured host, port, path and KV apply.
   */
  env?: Record<string, string>;
  /** Command-line arguments for `loadConfig` (`--config PATH`); default none. */
  args?: string[];
  /**
   * Working directory holding `.env` and `config.yaml` (default: an empty
   * temporary directory, so local configuration files are ignored).
   */
  cwd?: string;
  /** The simulated member's user id (default {@linkcode DEMO_USER}). */
  userId?: string;
  /** How long `send` waits for the replies, ms (default 10 000). */
  replyTimeoutMs?: number;
  /** Delivery's fallback poll interval, ms (default: the gateway's). */
  deliveryPollMs?: number;
}

/** A running demo environment. */
export interface DemoEnvironment {
  /** The demo app as the gateway knows it (random keys; apiBase = the simulated API). */
  app: AppConfig;
  config: GatewayConfig;
  /** The simulated WeCom API. */
  api: FakeWeComApi;
  gateway: Gateway;
  /** The gateway's callback URL, reachable from this machine. */
  callbackUrl: string;
  /** The gateway's health URL, reachable from this machine. */
  healthUrl: string;
  /** The simulated member {@linkcode DEMO_USER} (or `options.userId`). */
  user: SimulatedUser;
  /** Another simulated member of the same corp. */
  userNamed(userId: string): Promise<SimulatedUser>;
  /** True when the gateway has no job queued or running and no reply pending for `userId`. */
  settled(userId: string): Promise<boolean>;
  /** Stops the gateway (gracefully) and the simulated API. */
  close(): Promise<void>;
}

/** Loopback form of a listening address, for URLs used on this machine. */
function reachableHost(hostname: string): string {
  if (hostname === "0.0.0.0") return "127.0.0.1";
  if (hostname === "::") return "[::1]";
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

async function loadDemoConfig(
  options: DemoOptions,
  appEnv: Record<string, string>,
): Promise<GatewayConfig> {
  const env = { ...(options.env ?? DEMO_ENV), ...appEnv };
  const args = options.args ?? [];
  let loaded: GatewayConfig;
  if (options.cwd !== undefined) {
    loaded = await loadConfig({ env, args, cwd: options.cwd });
  } else {
    const empty = await Deno.makeTempDir({ prefix: "wecom-gateway-demo-" });
    try {
      loaded = await loadConfig({ env, args, cwd: empty });
    } finally {
      await Deno.remove(empty, { recursive: true }).catch(() => {});
    }
  }
  // Named "demo" rather than "default": should a KV file outlive the demo, replies
  // it left pending name an app a real configuration does not have, so they are
  // dead-lettered instead of being sent through a real app.
  return { ...loaded, apps: loaded.apps.map((app) => ({ ...app, name: DEMO_APP_NAME })) };
}

/**
 * Starts the simulated WeCom API, then the gateway pointed at it, and returns
 * the environment with a simulated member ready to talk.
 *
 * @throws {ConfigError} when the given environment or config file has problems.
 *
 * @example Usage
 * ```ts ignore
 * import { startDemo } from "./demo.ts";
 * const demo = await startDemo();
 * const exchange = await demo.user.send("x".repeat(5000));
 * console.log(exchange.replies.map((reply) => reply.bytes)); // parts of at most 2048 bytes
 * await demo.close();
 * ```
 */
export async function startDemo(options: DemoOptions = {}): Promise<DemoEnvironment> {
  const demoApp = generateDemoApp();
  const api = startFakeWeComApi({
    apps: [{ corpId: demoApp.corpId, corpSecret: demoApp.corpSecret, agentId: demoApp.agentId }],
  });
  let gateway: Gateway | undefined;
  try {
    const config = await loadDemoConfig(options, demoAppEnv(demoApp, api.url));
    gateway = await startGateway(config, { deliveryPollMs: options.deliveryPollMs });
    const address = gateway.address!;
    const base = `http://${reachableHost(address.hostname)}:${address.port}`;
    const callbackUrl = `${base}${config.path}`;
    const kv = gateway.kv;
    const corpId = config.apps[0].corpId;
    const settled = (userId: string) => isConversationSettled(kv, `${corpId}:${userId}`);
    const userNamed = (userId: string) =>
      createSimulatedUser({
        callbackUrl,
        app: config.apps[0],
        api,
        userId,
        settled,
        timeoutMs: options.replyTimeoutMs,
      });
    const user = await userNamed(options.userId ?? DEMO_USER);
    const running = gateway;
    let closing: Promise<void> | undefined;
    return {
      app: config.apps[0],
      config,
      api,
      gateway: running,
      callbackUrl,
      healthUrl: `${base}/health`,
      user,
      userNamed,
      settled,
      close() {
        closing ??= (async () => {
          try {
            await running.stop({ graceMs: 2_000 });
          } finally {
            await api.close();
          }
        })();
        return closing;
      },
    };
  } catch (error) {
    await gateway?.stop({ graceMs: 0 }).catch(() => {});
    await api.close();
    throw error;
  }
}

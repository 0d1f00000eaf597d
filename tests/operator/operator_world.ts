/**
 * A world (gateway + simulated WeCom) with the operator listener on
 * 127.0.0.1 and a free port, charts sampled every 100 ms, and helpers to call
 * the operator API as the console does.
 *
 * @example Usage
 * ```ts ignore
 * const w = await startOperatorWorld();
 * const overview = await w.getJson("/api/overview");
 * await w.close();
 * ```
 *
 * @module
 */

import type { OperatorConfig } from "../../src/config/types.ts";
import { startWorld, type World, type WorldOptions } from "../fakes/world.ts";

/** A world with an operator listener. */
export interface OperatorWorld extends World {
  /** `http://127.0.0.1:<operator port>` */
  operatorBase: string;
  /** GET on the operator listener (with the token, if any); the parsed JSON body. */
  getJson(path: string): Promise<Record<string, unknown>>;
  /** POST as the console does (header, token); status and parsed JSON body. */
  postJson(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
}

/** Options of {@linkcode startOperatorWorld}. */
export interface OperatorWorldOptions extends WorldOptions {
  operator?: Partial<OperatorConfig>;
}

/** Starts a world whose gateway has an operator listener. */
export async function startOperatorWorld(
  options: OperatorWorldOptions = {},
): Promise<OperatorWorld> {
  const operator: OperatorConfig = { host: "127.0.0.1", port: 0, token: "", ...options.operator };
  const world = await startWorld({
    ...options,
    configure: (config) => {
      config.operator = operator;
      options.configure?.(config);
    },
    gateway: { operatorSampleMs: 100, ...options.gateway },
  });
  const operatorBase = `http://127.0.0.1:${world.gateway.operatorAddress!.port}`;
  const headers = (): Record<string, string> => ({
    "x-operator-console": "1",
    ...(operator.token ? { authorization: `Bearer ${operator.token}` } : {}),
  });
  return {
    ...world,
    operatorBase,
    async getJson(path) {
      const response = await fetch(`${operatorBase}${path}`, { headers: headers() });
      if (!response.ok) {
        throw new Error(`GET ${path}: HTTP ${response.status} ${await response.text()}`);
      }
      return await response.json();
    },
    async postJson(path, body) {
      const response = await fetch(`${operatorBase}${path}`, {
        method: "POST",
        headers: { ...headers(), "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: response.status, body: await response.json() };
    },
  };
}

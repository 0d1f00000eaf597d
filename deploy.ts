/**
 * Deno Deploy entry point: the callback endpoint only (role "edge").
 *
 * It verifies, decrypts and records each callback into the project's Deno KV
 * (FoundationDB on Deploy) and answers 200. Jobs, the agent and delivery run
 * in a `worker` process elsewhere (`wecom-gateway serve --role worker`) that
 * opens the same KV through KV Connect (`WECOM_GATEWAY_KV=https://api.deno.com/databases/<id>/connect`
 * with `DENO_KV_ACCESS_TOKEN`). No KV queues and no unstable APIs beyond KV
 * are used, so it runs on Deploy as is.
 *
 * Configure it with the WECOM_CALLBACK_* environment variables of your
 * project (config.yaml is not read on Deploy unless you deploy it).
 *
 * @module
 */

import { ConfigError, formatConfigError, loadConfig } from "./src/config/load.ts";
import { startGateway } from "./src/gateway.ts";

try {
  const config = await loadConfig({ args: [] });
  // Deploy gives a project one listener: no operator listener here (run the console and
  // /metrics on the worker, which shares this KV).
  delete config.operator;
  // Deploy serves HTTP itself and bounds its connections: no front of our own.
  if (config.http) config.http.front = false;
  const kv = await Deno.openKv();
  await startGateway(config, { role: "edge", kv });
} catch (error) {
  if (error instanceof ConfigError) console.error(formatConfigError(error));
  throw error;
}

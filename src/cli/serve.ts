/**
 * `serve`: runs the gateway until SIGINT or SIGTERM.
 *
 * @module
 */

import { ConfigError, formatConfigError, loadConfig } from "../config/load.ts";
import type { GatewayConfig } from "../config/types.ts";
import { type GatewayRole, startGateway } from "../gateway.ts";
import { log } from "../log.ts";
import { type Command, runCommand } from "./command.ts";
import { consoleOutput } from "./context.ts";
import { onlyNoApps, serveDemoMode } from "./demo.ts";

const HELP = `wecom-gateway serve: receive WeCom callbacks, run the agent, deliver replies.

Usage: wecom-gateway serve [--config PATH] [--role all|edge|worker]

Options:
  --config PATH   config.yaml to read (default: ./config.yaml when present, or WECOM_GATEWAY_CONFIG)
  --role ROLE     all (default): everything in one process
                  edge: the callback endpoint only (intake into KV; fits Deno Deploy)
                  worker: jobs, agent and delivery only (no HTTP server)
                  Several processes may share one KV (WECOM_GATEWAY_KV).

Environment: WECOM_CALLBACK_CORP_ID, _CORP_SECRET, _AGENT_ID, _TOKEN, _ENCODING_AES_KEY (one app),
WECOM_CALLBACK_HOST/_PORT/_PATH, WECOM_CALLBACK_ALLOWED_USERS, WECOM_CALLBACK_ALLOW_ALL_USERS,
WECOM_GATEWAY_KV, WECOM_GATEWAY_AGENT, LOG_FORMAT=json. See config.example.yaml for every key.

With no app configured at all, serve prints what to set and starts in demo mode: the gateway with
a simulated WeCom and throwaway keys (see 'wecom-gateway demo --help').

SIGINT/SIGTERM stop gracefully: no new callbacks, in-flight acknowledgements finish, running jobs
are released to the queue for the next start or another worker.`;

/** Reads `--name value` or `--name=value` from args. */
export function option(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1];
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return undefined;
}

function describe(config: GatewayConfig, role: GatewayRole, address?: Deno.NetAddr): string {
  const lines = [
    `wecom-gateway running (role ${role}, agent ${config.agent.kind}, KV ${config.kvPath})`,
  ];
  if (address) {
    const host = address.hostname === "0.0.0.0"
      ? "<this server's public address>"
      : address.hostname;
    lines.push(`  callback URL: http://${host}:${address.port}${config.path}`);
    if (config.apps.length > 1) lines.push(`  per app:      ${config.path}/<app name>`);
    lines.push(`  health:       http://${address.hostname}:${address.port}/health`);
  }
  for (const app of config.apps) {
    lines.push(`  app '${app.name}': corp ${app.corpId}, agent ${app.agentId}`);
  }
  if (!config.access.allowAll && config.access.allowedUsers.length === 0) {
    lines.push(
      "  note: nobody is allowed yet; set WECOM_CALLBACK_ALLOWED_USERS=user1,user2 " +
        "(or WECOM_CALLBACK_ALLOW_ALL_USERS=true)",
    );
  }
  return lines.join("\n");
}

/** The `serve` command. */
export const serveCommand: Command = {
  name: "serve",
  summary: "run the gateway (the default command)",
  help: HELP,
  async run(args) {
    return await runCommand(args, HELP, consoleOutput, () => serve(args));
  },
};

async function serve(args: string[]): Promise<number> {
  const role = (option(args, "role") ?? "all") as GatewayRole;
  if (!["all", "edge", "worker"].includes(role)) {
    console.error(`Cannot serve as role '${role}': use --role all, edge or worker.`);
    return 2;
  }
  let config: GatewayConfig;
  try {
    config = await loadConfig({ args });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(formatConfigError(error));
    // No app at all (and nothing else wrong): show the gateway with a simulated WeCom.
    if (role === "all" && onlyNoApps(error)) return await serveDemoMode(args);
    return 2;
  }
  const gateway = await startGateway(config, { role });
  console.log(describe(config, role, gateway.address));

  let signals = 0;
  const onSignal = () => {
    if (++signals > 1) {
      log.warn("second signal: exiting now");
      Deno.exit(130);
    }
    log.info("stopping: finishing in-flight callbacks and releasing running jobs");
    gateway.stop();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", onSignal);
  await gateway.finished;
  Deno.removeSignalListener("SIGINT", onSignal);
  if (Deno.build.os !== "windows") Deno.removeSignalListener("SIGTERM", onSignal);
  if (gateway.failure) {
    log.error(`stopped: ${gateway.failure}`);
    return 1;
  }
  log.info("stopped");
  return 0;
}

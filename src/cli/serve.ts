/**
 * `serve`: runs the gateway until SIGINT or SIGTERM.
 *
 * @module
 */

import { ConfigError, formatConfigError, formatConfigWarning, loadConfig } from "../config/load.ts";
import type { GatewayConfig } from "../config/types.ts";
import { type GatewayRole, startGateway } from "../gateway.ts";
import { log, logFormat, setLogFormat } from "../log.ts";
import { isStartError } from "./start_failure.ts";
import { type Command, runCommand } from "./command.ts";
import { consoleOutput } from "./context.ts";

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
WECOM_GATEWAY_KV, WECOM_GATEWAY_AGENT, LOG_FORMAT=json, WECOM_GATEWAY_OPERATOR_HOST/_PORT/_TOKEN
(the operator listener: console and /metrics, default 127.0.0.1:8646, port 0 = off). See
config.example.yaml for every key.

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

/** The start-up banner as the fields of one log line (`LOG_FORMAT=json`: stdout is JSON only). */
function describeFields(
  config: GatewayConfig,
  role: GatewayRole,
  address?: Deno.NetAddr,
  operator?: Deno.NetAddr,
): Record<string, unknown> {
  const nobody = !config.access.allowAll && config.access.allowedUsers.length === 0;
  return {
    role,
    agent: config.agent.kind,
    kv: config.kvPath,
    ...(address
      ? {
        listen: `${address.hostname}:${address.port}`,
        callbackPath: config.path,
        health: `http://${address.hostname}:${address.port}/health`,
      }
      : {}),
    ...(operator ? { operator: `${operator.hostname}:${operator.port}` } : {}),
    apps: config.apps.map((app) => ({ name: app.name, corpId: app.corpId, agentId: app.agentId })),
    ...(nobody
      ? { note: "nobody is allowed yet; set WECOM_CALLBACK_ALLOWED_USERS=user1,user2" }
      : {}),
  };
}

function describe(
  config: GatewayConfig,
  role: GatewayRole,
  address?: Deno.NetAddr,
  operator?: Deno.NetAddr,
): string {
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
  if (operator) {
    const host = operator.hostname.includes(":") ? `[${operator.hostname}]` : operator.hostname;
    lines.push(
      `  operator:     http://${host}:${operator.port}/ (console), /metrics` +
        (config.operator?.token ? " (bearer token required)" : ""),
    );
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

/** Demo mode's lines as info log lines, for `LOG_FORMAT=json` (stdout holds JSON only). */
const JSON_DEMO_OUTPUT = {
  out(text: string) {
    for (const line of text.split("\n")) if (line.trim() !== "") log.info(line.trim());
  },
  err(text: string) {
    console.error(text);
  },
};

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
    // No app at all (and nothing else wrong): show the gateway with a simulated WeCom. Demo
    // mode's modules (the simulator) are loaded only then, not by a configured gateway.
    const { onlyNoApps, serveDemoMode } = await import("./demo_serve.ts");
    const demoMode = role === "all" && onlyNoApps(error);
    console.error(formatConfigError(error, { startsInDemoMode: demoMode }));
    if (demoMode) {
      return await serveDemoMode(args, logFormat() === "json" ? { output: JSON_DEMO_OUTPUT } : {});
    }
    return 2;
  }
  setLogFormat(config.logFormat);
  for (const warning of config.warnings ?? []) console.error(formatConfigWarning(warning));
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  try {
    gateway = await startGateway(config, { role });
  } catch (error) {
    // Start-up failures a user can fix: one line saying what to do, like a config error.
    if (!isStartError(error)) throw error;
    console.error(error.message);
    return 2;
  }

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
  // Printed once the signals are handled: a stop right after "running" is a graceful one.
  if (logFormat() === "json") {
    log.info(
      "wecom-gateway running",
      describeFields(config, role, gateway.address, gateway.operatorAddress),
    );
  } else console.log(describe(config, role, gateway.address, gateway.operatorAddress));
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

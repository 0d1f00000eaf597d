/**
 * `check`: validates the configuration and shows what the gateway would run
 * with (never a secret, only its length), proves the KV location opens and is
 * writable, and with `--online` asks WeCom for an access token per app and
 * explains every failure in plain words, then checks the agent
 * (`../agent/check.ts`).
 *
 * @example Usage
 * ```ts ignore
 * import { createCheckCommand } from "./check.ts";
 * const code = await createCheckCommand().run(["--online"]);
 * ```
 *
 * @module
 */

import { findConfigPath } from "../config/config_path.ts";
import { readDotenv } from "../config/dotenv.ts";
import { formatConfigWarning } from "../config/errors.ts";
import type { AppConfig, GatewayConfig } from "../config/types.ts";
import { commit, openStore } from "../store/kv.ts";
import { keys } from "../store/keys.ts";
import { createWeComClient } from "../wecom/client.ts";
import { explainErrcode, NO_ERRCODE, WeComApiError } from "../wecom/errors.ts";
import { wecomFetchJson } from "../wecom/request.ts";
import { parseOptions } from "./args.ts";
import { type Command, createCommand } from "./command.ts";
import { type CliContext, loadConfigIn } from "./context.ts";
import { describeFetchFailure } from "./network_error.ts";
import { cliCommand } from "./invocation.ts";
import { checkAgentOnline } from "../agent/check.ts";
import { safeUrl } from "../text/format.ts";

const HELP =
  `wecom-gateway check: validate the configuration, and with --online prove it works with WeCom.

Usage: wecom-gateway check [--config PATH] [--online]

Options:
  --config PATH   config.yaml to read (default: ./config.yaml when present, or WECOM_GATEWAY_CONFIG)
  --online        also ask WeCom for an access token for each app (gettoken, bypassing the cache),
                  confirm each agent_id, and explain failures: wrong Secret (40001), wrong CorpID
                  (40013), wrong AgentId (40056/301002), untrusted server IP (60020), network
                  (DNS, firewall, HTTPS_PROXY). Nothing is sent to any user.
                  Then the agent: openai/hermes: reachable, key accepted, model listed (and for
                  hermes the session headers accepted, without running the model); command: the
                  program is executable and its cwd exists; http: the webhook's host is reachable.

Without --online nothing leaves this machine. Every configuration problem is listed at once.
Secrets are never printed, only their length. The KV location is opened and a probe key is
written and deleted (safe while a gateway runs; it may briefly meet "database is locked").

Exit codes: 0 all good, 1 a check failed, 2 bad usage or invalid configuration.`;

/** Dependencies of {@linkcode createCheckCommand} (tests). */
export interface CheckDeps {
  context?: CliContext;
  /** Timeout of each WeCom call, ms (default: delivery.request_timeout, at most 10 s). */
  timeoutMs?: number;
}

/** One line of the result: fine, a warning, or a failed check. */
type Verdict = "ok" | "warn" | "fail";

const MARK: Record<Verdict, string> = { ok: "ok  ", warn: "warn", fail: "FAIL" };

function plural(count: number, word: string): string {
  if (count === 1) return `${count} ${word}`;
  return `${count} ${word.endsWith("y") ? word.slice(0, -1) + "ie" : word}s`;
}

function secretLength(value: string): string {
  return value === "" ? "not set" : plural(value.length, "character");
}

function describeAgent(config: GatewayConfig): string {
  const agent = config.agent;
  const minutes = Math.round(agent.timeoutMs / 60_000);
  const base = `${agent.kind} (timeout ${minutes} min, ${plural(agent.workers, "worker")})`;
  switch (agent.kind) {
    case "openai":
      return `${base}: model ${agent.openai.model || "(not set)"} at ${
        safeUrl(agent.openai.baseUrl)
      }, API key ${secretLength(agent.openai.apiKey)}`;
    case "command":
      return `${base}: runs ${agent.command.argv[0] ?? "(no program set)"}`;
    case "http":
      return `${base}: posts to ${safeUrl(agent.http.url)}`;
    case "hermes":
      return `${base}: Hermes at ${safeUrl(agent.hermes?.baseUrl ?? "")}, model ${
        agent.hermes?.model ?? "hermes-agent"
      }, ${agent.hermes?.apiKeyEnv ?? "API_SERVER_KEY"} ${
        secretLength(agent.hermes?.apiKey ?? "")
      }, ${agent.hermes?.revealIds ? "raw member ids" : "opaque session ids"}`;
    default:
      return `${base}: replies with the inbound text`;
  }
}

function describeAllowlist(config: GatewayConfig): { verdict: Verdict; text: string } {
  if (config.access.allowAll) return { verdict: "ok", text: "everyone may talk to the agent" };
  const users = config.access.allowedUsers;
  if (users.length === 0) {
    return {
      verdict: "warn",
      text: "nobody may talk to the agent yet: set WECOM_CALLBACK_ALLOWED_USERS=user1,user2 " +
        "(or WECOM_CALLBACK_ALLOW_ALL_USERS=true)",
    };
  }
  const shown = users.slice(0, 10).join(", ") + (users.length > 10 ? ", …" : "");
  return { verdict: "ok", text: `${plural(users.length, "entry")}: ${shown}` };
}

/** The summary of a valid configuration. */
function summary(config: GatewayConfig, configPath: string | undefined): string[] {
  const lines = [
    "Configuration is valid.",
    `  config file: ${configPath ?? "none (environment and .env only)"}`,
    `  callback:    listens on ${config.host}:${config.port}, path ${config.path}`,
    `  apps:        ${config.apps.length}`,
  ];
  for (const app of config.apps) {
    lines.push(
      `    - ${app.name}: corp_id ${app.corpId}, agent_id ${app.agentId}, api_base ${
        safeUrl(app.apiBase)
      }`,
      `      corp_secret: ${secretLength(app.corpSecret)}, token: ${
        secretLength(app.token)
      }, encoding_aes_key: ${secretLength(app.encodingAesKey)}`,
      `      callback path: ${config.path}${
        config.apps.length > 1 ? ` or ${config.path}/${app.name}` : ""
      }`,
    );
  }
  const allow = describeAllowlist(config);
  lines.push(
    `  agent:       ${describeAgent(config)}`,
    `  KV:          ${config.kvPath.startsWith("http") ? safeUrl(config.kvPath) : config.kvPath}`,
    `  allowlist:   ${allow.verdict === "warn" ? "warning: " : ""}${allow.text}`,
  );
  return lines;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Opens the KV location and writes and deletes a probe key. */
async function checkKv(config: GatewayConfig): Promise<{ verdict: Verdict; text: string }> {
  const path = config.kvPath;
  const shown = path.startsWith("http") ? safeUrl(path) : path;
  if (path === ":memory:") {
    return {
      verdict: "warn",
      text: "KV is in memory: jobs and replies in flight are lost on every restart. " +
        "Set WECOM_GATEWAY_KV to a file path for real use.",
    };
  }
  const isFile = !/^https?:\/\//.test(path);
  const existed = isFile ? await exists(path) : true;
  let kv: Deno.Kv;
  try {
    kv = await openStore(path);
  } catch (error) {
    const message = (error as Error).message;
    return {
      verdict: "fail",
      text: message.startsWith("Cannot open Deno KV") ? message : `Cannot open Deno KV at ` +
        `${shown}: ${message}. Set WECOM_GATEWAY_KV to a writable file path, ':memory:' or a ` +
        "KV Connect URL.",
    };
  }
  try {
    const key = keys.checkProbe(crypto.randomUUID());
    await commit(() => kv.atomic().set(key, { at: Date.now() }));
    await kv.delete(key);
  } catch (error) {
    return {
      verdict: "fail",
      text: `KV at ${shown} opens but cannot be written: ${(error as Error).message}. ` +
        "Check the file's owner and permissions and the free disk space " +
        "(a gateway that owns the file may also hold it locked: try again).",
    };
  } finally {
    kv.close();
  }
  return {
    verdict: "ok",
    text: `KV at ${shown} opens and is writable` +
      (existed ? "" : " (created now: no gateway has run with this KV yet)"),
  };
}

/** The IP WeCom quotes in a 60020 errmsg (`from ip: 1.2.3.4`), if any. */
function quotedIp(errmsg: string): string | undefined {
  return /from ip:\s*([0-9a-fA-F.:]+)/.exec(errmsg)?.[1];
}

function trustedIpAdvice(app: AppConfig, errmsg: string): string {
  const ip = quotedIp(errmsg);
  return `WeCom refused the call from this server's IP address (errcode 60020)` +
    (ip ? `; WeCom saw the request coming from ${ip}` : "") +
    `. Add ${ip ?? "this server's public egress IP"} to the trusted IPs of app '${app.name}': ` +
    "admin console → 应用管理 → the app → 企业可信IP → 配置. It applies after about a minute. " +
    "If this server's egress IP changes (NAT, cloud), send WeCom calls through a proxy with a " +
    "fixed IP (HTTPS_PROXY, or api_base pointing at it).";
}

/** Plain-language explanation of a failed online call for `app`. */
async function explainFailure(
  app: AppConfig,
  error: WeComApiError,
  timeoutMs: number,
): Promise<string> {
  switch (error.errcode) {
    case 40001:
      return `WeCom refused corp_secret (errcode 40001): the Secret is wrong, was reset in the ` +
        `admin console, or the app is disabled. Copy the current Secret of app '${app.name}' ` +
        "(应用管理 → the app → Secret → 查看; WeCom sends it to your WeCom) into corp_secret " +
        "(WECOM_CALLBACK_CORP_SECRET for the single app), and check the app is enabled. " +
        "Do not retry in a loop: repeated wrong secrets get this server's IP banned by WeCom " +
        "for an hour.";
    case 40013:
      return `WeCom does not know corp_id '${app.corpId}' (errcode 40013). Copy the CorpID ` +
        "(企业ID, starts with ww or wx) from 我的企业 → 企业信息, at the bottom of the page, " +
        "into corp_id (WECOM_CALLBACK_CORP_ID for the single app).";
    case 40056:
    case 301002:
      return `WeCom does not accept agent_id ${app.agentId} for this Secret (errcode ` +
        `${error.errcode}): agent_id and corp_secret must come from the same app. Copy the ` +
        "AgentId shown under the app's name in 应用管理 → the app into agent_id " +
        "(WECOM_CALLBACK_AGENT_ID for the single app).";
    case 60020:
      return trustedIpAdvice(app, error.errmsg);
  }
  if (error.errcode !== NO_ERRCODE) {
    return `WeCom answered errcode ${error.errcode}: ${explainErrcode(error.errcode)}`;
  }
  if (error.kind === "network") {
    const url = `${app.apiBase}/cgi-bin/gettoken`;
    let probe = error.errmsg === "timeout"
      ? describeFetchFailure(new DOMException("timed out", "TimeoutError"), url)
      : undefined;
    if (!probe) {
      try {
        // Without any credentials: only to learn why the connection fails.
        const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
        await response.body?.cancel();
      } catch (failure) {
        probe = describeFetchFailure(failure, url);
      }
    }
    const reason = probe ? `${probe.summary} ${probe.advice}` : error.message;
    return `Cannot reach WeCom at api_base ${safeUrl(app.apiBase)}: ${reason} This server ` +
      "must reach the api_base (for WeCom: qyapi.weixin.qq.com, HTTPS on port 443). If it may " +
      "only go out through a proxy, set HTTPS_PROXY (the gateway honours it).";
  }
  return error.message;
}

/** Confirms agent_id with `agent/get` (read-only; WeCom answers only for the token's own app). */
async function checkAgentId(
  app: AppConfig,
  token: string,
  timeoutMs: number,
): Promise<{ verdict: Verdict; text: string }> {
  const url = `${app.apiBase}/cgi-bin/agent/get?access_token=${encodeURIComponent(token)}` +
    `&agentid=${encodeURIComponent(app.agentId)}`;
  try {
    const answer = await wecomFetchJson(url, { api: "agent/get", timeoutMs });
    if (String(answer.agentid ?? app.agentId) !== app.agentId) {
      return {
        verdict: "fail",
        text: `agent_id ${app.agentId} is not the app of this Secret (WeCom answered agent ` +
          `${answer.agentid}): copy the AgentId of the same app as the Secret.`,
      };
    }
    const name = typeof answer.name === "string" && answer.name ? ` "${answer.name}"` : "";
    if (Number(answer.close) === 1) {
      return {
        verdict: "fail",
        text: `agent_id ${app.agentId} is the app${name}, but the app is disabled (停用): ` +
          "enable it in 应用管理 → the app.",
      };
    }
    return { verdict: "ok", text: `agent_id ${app.agentId} is the app${name}` };
  } catch (error) {
    if (!(error instanceof WeComApiError)) throw error;
    if ([40056, 301002, 60020].includes(error.errcode)) {
      return { verdict: "fail", text: await explainFailure(app, error, timeoutMs) };
    }
    if (error.httpStatus === 404) {
      return {
        verdict: "warn",
        text: `agent_id not confirmed: ${
          safeUrl(app.apiBase)
        } answered HTTP 404 to agent/get (a proxy or simulator without it).`,
      };
    }
    return {
      verdict: "warn",
      text: `agent_id not confirmed: ${await explainFailure(app, error, timeoutMs)}`,
    };
  }
}

/** Online checks of one app; each result is one line. */
async function checkApp(
  app: AppConfig,
  kv: Deno.Kv,
  timeoutMs: number,
): Promise<{ verdict: Verdict; text: string }[]> {
  const client = createWeComClient({ kv, timeoutMs, log: () => {} });
  const started = performance.now();
  const result = await client.fetchTokenOnline(app);
  const ms = Math.round(performance.now() - started);
  if (!result.ok) {
    return [{
      verdict: "fail",
      text: `gettoken failed: ${await explainFailure(app, result.error, timeoutMs)}`,
    }];
  }
  const lines = [{
    verdict: "ok" as Verdict,
    text: `gettoken ok in ${ms} ms: corp_id and corp_secret are right`,
  }];
  lines.push(await checkAgentId(app, await client.getToken(app), timeoutMs));
  return lines;
}

/**
 * Creates the `check` command.
 *
 * @example Usage
 * ```ts ignore
 * import { captureContext } from "./context.ts";
 * import { createCheckCommand } from "./check.ts";
 * const { context, stdout } = captureContext({ env: { WECOM_GATEWAY_KV: ":memory:" } });
 * const code = await createCheckCommand({ context }).run([]);
 * ```
 */
export function createCheckCommand(deps: CheckDeps = {}): Command {
  return createCommand(
    {
      name: "check",
      summary: "validate the configuration (--online: prove it works with WeCom)",
      help: HELP,
    },
    deps.context,
    (args, context) => check(args, context, deps),
  );
}

async function check(args: string[], context: CliContext, deps: CheckDeps): Promise<number> {
  const { values } = parseOptions(args, {
    command: "check",
    strings: ["config"],
    booleans: ["online"],
  });
  const online = values.online === true;
  const configArgs = values.config === undefined ? [] : ["--config", values.config as string];
  const config = await loadConfigIn(context, configArgs);
  if (!config) {
    context.err(`\nFix the problems above, then run '${cliCommand()} check' again.`);
    return 2;
  }
  const configPath = await configFileOf(context, configArgs);
  context.out(summary(config, configPath).join("\n"));
  for (const warning of config.warnings ?? []) context.out(formatConfigWarning(warning));

  let failed = false;
  let warnings = 0;
  const report = (line: { verdict: Verdict; text: string }, indent = "  ") => {
    if (line.verdict === "fail") failed = true;
    if (line.verdict === "warn") warnings++;
    context.out(`${indent}${MARK[line.verdict]}  ${line.text}`);
  };
  context.out("\nChecks:");
  report(await checkKv(config));

  if (online) {
    const timeoutMs = deps.timeoutMs ?? Math.min(config.delivery.requestTimeoutMs, 10_000);
    context.out("\nOnline (gettoken for each app, bypassing the token cache):");
    const kv = await Deno.openKv(":memory:");
    try {
      for (const app of config.apps) {
        context.out(`  app '${app.name}':`);
        for (const line of await checkApp(app, kv, timeoutMs)) report(line, "    ");
      }
    } finally {
      kv.close();
    }
    // The same checks as the operator console's health view.
    context.out(`\nAgent (${config.agent.kind}):`);
    const agentLines = await checkAgentOnline(config.agent, {
      timeoutMs,
      env: context.env,
      cwd: context.cwd,
    });
    for (const line of agentLines) report(line);
  } else {
    context.out(`\nRun '${cliCommand()} check --online' to prove the credentials with WeCom.`);
  }

  context.out(
    failed
      ? "\nSome checks failed: fix them (see FAIL above) and run the check again."
      : `\nAll checks passed${warnings > 0 ? ` (${plural(warnings, "warning")} above)` : ""}.`,
  );
  return failed ? 1 : 0;
}

/** The config file that was read, for the summary (mirrors the loader's search). */
async function configFileOf(context: CliContext, args: string[]): Promise<string | undefined> {
  const dotenv = await readDotenv(context.cwd);
  const located = findConfigPath(args, { ...dotenv.values, ...context.env }, context.cwd);
  if (!("path" in located)) return undefined;
  return await exists(located.path) ? located.path : undefined;
}

/** The `check` command. */
export const checkCommand: Command = createCheckCommand();

/**
 * Turns the merged layers (environment > .env > config.yaml) into a checked
 * `GatewayConfig`, applying the defaults documented in `./types.ts` and
 * collecting every problem instead of stopping at the first.
 *
 * Pure: no file or environment access; relative paths are resolved against `cwd`.
 *
 * @example Usage
 * ```ts
 * import { validateConfig } from "./validate.ts";
 * const { config, problems, noApps } = validateConfig({
 *   env: {
 *     WECOM_CALLBACK_CORP_ID: "ww0123456789abcdef",
 *     WECOM_CALLBACK_CORP_SECRET: "secret",
 *     WECOM_CALLBACK_AGENT_ID: "1000002",
 *     WECOM_CALLBACK_TOKEN: "token",
 *     WECOM_CALLBACK_ENCODING_AES_KEY: "a".repeat(43),
 *   },
 *   dotenv: {},
 *   root: {},
 * }, "/srv/gw");
 * console.assert(problems.length === 0 && !noApps && config.port === 8645);
 * ```
 *
 * @module
 */

import { isAbsolute, resolve } from "../path.ts";
import { type ConfigProblem, NO_APPS_KEY } from "./errors.ts";
import { APP_FIELDS, SETTINGS } from "./keys.ts";
import { atPath, collectApps, fromEnv, type Layers } from "./layers.ts";
import { createReader, where } from "./read.ts";
import type { AgentKind, GatewayConfig } from "./types.ts";
import { checkNames } from "./unknown_keys.ts";
import { withGatewaySection } from "./gateway_section.ts";
import { readAgentExtras, validHeaders } from "./validate_agent.ts";
import { validateApps } from "./validate_apps.ts";
import { readCommandEnv } from "./validate_command_env.ts";
import { readMedia, readPlainText, readWelcome } from "./validate_media.ts";
import { readOperator } from "./validate_operator.ts";
import { readHttp, readKvCheckMs } from "./validate_http.ts";

/** Defaults of every setting that has one. */
export const DEFAULTS = {
  host: "0.0.0.0",
  port: 8645,
  path: "/wecom/callback",
  apiBase: "https://qyapi.weixin.qq.com",
  replayWindowSeconds: 300,
  kv: "./data/wecom-gateway.sqlite3",
  logFormat: "human",
  refusalNoticeSeconds: 86400,
  refusalNoticeText:
    "抱歉，你还没有使用此应用的权限，请联系管理员把你的帐号 ID 加入允许列表。(Sorry, you may not use this app yet: please ask the administrator to add your user id to the allowlist.)",
  agentKind: "echo",
  agentTimeoutSeconds: 30 * 60,
  agentWorkerIdleSeconds: 60,
  openaiApiKeyEnv: "OPENAI_API_KEY",
  openaiHistoryMaxBytes: 32 * 1024,
  jobsConcurrency: 4,
  jobsLeaseSeconds: 60,
  jobsMaxAttempts: 3,
  jobsWorkingNoticeSeconds: 60,
  jobsWorkingNoticeText: "正在处理，请稍候… (working on it)",
  jobsRecallWorkingNotice: true,
  jobsPollMs: 1000,
  deliveryRetryWindowMinutes: 30,
  deliveryRetryMaxBackoffSeconds: 300,
  deliveryPerMinute: 30,
  deliveryPerHour: 1000,
  deliveryRequestTimeoutSeconds: 10,
} as const;

/** WeCom's own limits per app and member; more is dropped silently. */
const WECOM_PER_MINUTE = 30;
const WECOM_PER_HOUR = 1000;

const AGENT_KINDS: readonly AgentKind[] = ["echo", "openai", "command", "http", "hermes"];

/** The outcome: a config (with defaults where values were wrong) and the problems found. */
export interface ValidationResult {
  config: GatewayConfig;
  problems: ConfigProblem[];
  /** True when no app is configured at all. */
  noApps: boolean;
}

/** The problem telling exactly what to set when no app is configured. */
export function noAppsProblem(): ConfigProblem {
  return {
    key: NO_APPS_KEY,
    env: APP_FIELDS.map((field) => field.env).join(", "),
    message: "no WeCom app is configured, so there is nothing to serve.",
    fix: `Set the five variables ${
      APP_FIELDS.map((field) => field.env).join(", ")
    } (in the environment or .env), or the same keys under platforms.wecom_callback.extra in config.yaml; in the WeCom admin console: ${
      APP_FIELDS.map((field) => `${field.label}: ${field.where}`).join("; ")
    }.`,
  };
}

function resolvePath(cwd: string, path: string): string {
  return isAbsolute(path) ? path : resolve(cwd, path);
}

/**
 * Validates the layers and returns the resulting config and every problem.
 *
 * @example Usage
 * ```ts
 * import { validateConfig } from "./validate.ts";
 * const { noApps, problems } = validateConfig({ env: {}, dotenv: {}, root: {} }, "/srv");
 * console.assert(noApps && problems.length === 1);
 * ```
 */
export function validateConfig(given: Layers, cwd: string): ValidationResult {
  const layers: Layers = { ...given, root: withGatewaySection(given.root) };
  const read = createReader(layers);
  const problems: ConfigProblem[] = checkNames(layers);

  const enabled = atPath(layers.root, ["platforms", "wecom_callback", "enabled"]);
  if (enabled === false || (typeof enabled === "string" && /^(false|no|off|0)$/i.test(enabled))) {
    problems.push({
      key: "platforms.wecom_callback.enabled",
      from: "config.yaml",
      message: "is false: the WeCom callback platform is switched off in config.yaml.",
      fix: "Set platforms.wecom_callback.enabled to true (or remove the line) to serve WeCom.",
    });
  }

  // The HTTP side.
  const host = read.text(SETTINGS.host, DEFAULTS.host).trim();
  if (host === "" || /\s/.test(host)) {
    reportSetTo(
      read,
      SETTINGS.host,
      "is not a host name or address.",
      "to an address such as 0.0.0.0 or 127.0.0.1.",
    );
  }
  const port = read.integer(SETTINGS.port, DEFAULTS.port, { min: 0, max: 65535 });
  let path = read.text(SETTINGS.path, DEFAULTS.path).trim();
  if (!path.startsWith("/") || /[\s?#]/.test(path)) {
    reportSetTo(
      read,
      SETTINGS.path,
      path.startsWith("/")
        ? "contains a space, ? or #; it must be a plain URL path."
        : 'does not start with "/".',
      "to a path such as /wecom/callback.",
    );
    path = DEFAULTS.path;
  }
  path = path.replace(/\/+$/, "") || "/";
  const apiBase = read.url(SETTINGS.apiBase, DEFAULTS.apiBase);
  const replayWindowSeconds = read.integer(
    SETTINGS.replayWindowSeconds,
    DEFAULTS.replayWindowSeconds,
    { min: 0 },
  );

  // Who may talk to the agent.
  const listed = read.list(SETTINGS.allowedUsers, /,/) ?? [];
  const allowedUsers: string[] = [];
  let allowAll = read.boolean(SETTINGS.allowAllUsers, false);
  const malformed: string[] = [];
  for (const entry of listed) {
    if (entry === "*") {
      allowAll = true;
      continue;
    }
    const parts = entry.split(":");
    if (/\s/.test(entry) || parts.length > 2 || parts.some((part) => part === "")) {
      malformed.push(JSON.stringify(entry.slice(0, 64)));
    } else {
      allowedUsers.push(entry);
    }
  }
  if (malformed.length > 0) {
    const raw = read.raw(SETTINGS.allowedUsers);
    read.report(
      SETTINGS.allowedUsers,
      raw,
      `has ${malformed.length === 1 ? "an entry" : "entries"} that ${
        malformed.length === 1 ? "is" : "are"
      } neither user nor corp_id:user: ${malformed.join(", ")}.`,
      `Write ${
        where(SETTINGS.allowedUsers, raw)
      } as comma-separated user ids (e.g. zhangsan,ww0123:lisi), or * for everyone.`,
    );
  }
  const refusalNoticeSeconds = read.integer(
    SETTINGS.refusalNoticeSeconds,
    DEFAULTS.refusalNoticeSeconds,
    { min: 0 },
  );
  const refusalNoticeText = nonEmptyText(
    read,
    SETTINGS.refusalNoticeText,
    DEFAULTS.refusalNoticeText,
  );

  // Storage and logs.
  const kvRaw = read.text(SETTINGS.kv, DEFAULTS.kv).trim();
  const kvPath = kvRaw === ":memory:" || /^https?:\/\//.test(kvRaw)
    ? kvRaw
    : resolvePath(cwd, kvRaw === "" ? DEFAULTS.kv : kvRaw);
  const logFormat = read.choice(SETTINGS.logFormat, DEFAULTS.logFormat, ["human", "json"]);

  // Jobs and delivery.
  const positive = { min: 0, exclusiveMin: true } as const;
  const concurrency = read.integer(SETTINGS.jobsConcurrency, DEFAULTS.jobsConcurrency, { min: 1 });
  const jobs = {
    concurrency,
    leaseMs: Math.round(
      read.number(SETTINGS.jobsLeaseSeconds, DEFAULTS.jobsLeaseSeconds, positive) * 1000,
    ),
    maxAttempts: read.integer(SETTINGS.jobsMaxAttempts, DEFAULTS.jobsMaxAttempts, { min: 1 }),
    workingNoticeMs: Math.round(
      read.number(SETTINGS.jobsWorkingNoticeSeconds, DEFAULTS.jobsWorkingNoticeSeconds, {
        min: 0,
      }) * 1000,
    ),
    workingNoticeText: nonEmptyText(
      read,
      SETTINGS.jobsWorkingNoticeText,
      DEFAULTS.jobsWorkingNoticeText,
    ),
    recallWorkingNotice: read.boolean(
      SETTINGS.jobsRecallWorkingNotice,
      DEFAULTS.jobsRecallWorkingNotice,
    ),
    pollMs: read.integer(SETTINGS.jobsPollMs, DEFAULTS.jobsPollMs, { min: 1 }),
  };
  const delivery = {
    markdown: read.boolean(SETTINGS.markdown, false),
    retryWindowMs: Math.round(
      read.number(
        SETTINGS.deliveryRetryWindowMinutes,
        DEFAULTS.deliveryRetryWindowMinutes,
        positive,
      ) * 60_000,
    ),
    retryMaxBackoffMs: Math.round(
      read.number(
        SETTINGS.deliveryRetryMaxBackoffSeconds,
        DEFAULTS.deliveryRetryMaxBackoffSeconds,
        positive,
      ) * 1000,
    ),
    perMinute: read.integer(SETTINGS.deliveryPerMinute, DEFAULTS.deliveryPerMinute, {
      min: 1,
      max: WECOM_PER_MINUTE,
    }),
    perHour: read.integer(SETTINGS.deliveryPerHour, DEFAULTS.deliveryPerHour, {
      min: 1,
      max: WECOM_PER_HOUR,
    }),
    requestTimeoutMs: Math.round(
      read.number(
        SETTINGS.deliveryRequestTimeoutSeconds,
        DEFAULTS.deliveryRequestTimeoutSeconds,
        positive,
      ) * 1000,
    ),
    ...readPlainText(read),
  };

  const warnings = deliveryWarnings(read, delivery.retryWindowMs);

  const agent = readAgent(read, cwd, concurrency);
  const media = readMedia(read, cwd, agent.command.cwd);
  const welcome = readWelcome(read);
  // Read before read.problems is taken below: a wrong value must be reported, not dropped.
  const groupCommit = read.boolean(SETTINGS.groupCommit, true);
  const operator = readOperator(read);
  const http = readHttp(read);
  const kvCheckMs = readKvCheckMs(read);

  const collected = collectApps(layers);
  problems.push(...collected.problems);
  const checked = validateApps(collected.apps, apiBase);
  problems.push(...checked.problems, ...read.problems);
  const noApps = collected.apps.length === 0 && collected.problems.length === 0;
  if (noApps) problems.push(noAppsProblem());

  return {
    config: {
      apps: checked.apps,
      host: host || DEFAULTS.host,
      port,
      path,
      replayWindowSeconds,
      kvPath,
      access: { allowAll, allowedUsers, refusalNoticeSeconds, refusalNoticeText },
      agent,
      jobs,
      delivery,
      media,
      welcome,
      logFormat,
      groupCommit,
      ...(operator ? { operator } : {}),
      warnings,
      http,
      kvCheckMs,
    },
    problems,
    noApps,
  };
}

/** WeCom's longest `duplicate_check_interval`, minutes (api-facts §6a). */
const DUPLICATE_CHECK_MAX_MINUTES = 240;

/**
 * Warnings about delivery settings that work but should change: the deprecated
 * `max_attempts` (ignored), and a retry window longer than WeCom's duplicate
 * check can cover.
 */
function deliveryWarnings(
  read: ReturnType<typeof createReader>,
  retryWindowMs: number,
): ConfigProblem[] {
  const warnings: ConfigProblem[] = [];
  const maxAttempts = read.raw(SETTINGS.deliveryMaxAttempts);
  if (maxAttempts !== undefined) {
    warnings.push({
      key: SETTINGS.deliveryMaxAttempts.key,
      from: maxAttempts.from,
      message: "is deprecated and ignored: a failing send is now retried for a time window " +
        `(${SETTINGS.deliveryRetryWindowMinutes.key}, default ` +
        `${DEFAULTS.deliveryRetryWindowMinutes} minutes), not a number of attempts.`,
      fix: `Remove ${SETTINGS.deliveryMaxAttempts.key}; set ` +
        `${SETTINGS.deliveryRetryWindowMinutes.key} to how long WeCom failures should be ` +
        "retried before a reply becomes a dead letter.",
    });
  }
  if (retryWindowMs > DUPLICATE_CHECK_MAX_MINUTES * 60_000) {
    const raw = read.raw(SETTINGS.deliveryRetryWindowMinutes);
    warnings.push({
      key: SETTINGS.deliveryRetryWindowMinutes.key,
      from: raw?.from,
      message: `is ${retryWindowMs / 60_000} minutes, longer than WeCom's duplicate check ` +
        `(at most ${DUPLICATE_CHECK_MAX_MINUTES} minutes): a reply resent later than that ` +
        "after its first send could arrive twice if the first copy landed unseen.",
      fix: `Set ${SETTINGS.deliveryRetryWindowMinutes.key} to ` +
        `${DUPLICATE_CHECK_MAX_MINUTES} or less, unless a rare double is better than a dead letter.`,
    });
  }
  return warnings;
}

/** Reports `spec`'s value as wrong; the fix reads "Set <where it is set> <to>". */
function reportSetTo(
  read: ReturnType<typeof createReader>,
  spec: (typeof SETTINGS)[keyof typeof SETTINGS],
  message: string,
  to: string,
): void {
  const raw = read.raw(spec);
  read.report(spec, raw, message, `Set ${where(spec, raw)} ${to}`);
}

function nonEmptyText(
  read: ReturnType<typeof createReader>,
  spec: (typeof SETTINGS)[keyof typeof SETTINGS],
  fallback: string,
): string {
  const text = read.text(spec, fallback);
  if (text.trim() !== "") return text;
  read.report(
    spec,
    read.raw(spec),
    "is empty.",
    `Write a short text in ${where(spec, read.raw(spec))}, or remove it for the default.`,
  );
  return fallback;
}

function readAgent(
  read: ReturnType<typeof createReader>,
  cwd: string,
  concurrency: number,
): GatewayConfig["agent"] {
  const kind = read.choice(SETTINGS.agentKind, DEFAULTS.agentKind, AGENT_KINDS);
  const timeoutMs = Math.round(
    read.number(SETTINGS.agentTimeoutSeconds, DEFAULTS.agentTimeoutSeconds, {
      min: 0,
      exclusiveMin: true,
    }) * 1000,
  );
  const workers = read.integer(SETTINGS.agentWorkers, concurrency, { min: 1 });
  const workerIdleMs = Math.round(
    read.number(SETTINGS.agentWorkerIdleSeconds, DEFAULTS.agentWorkerIdleSeconds, { min: 0 }) *
      1000,
  );

  // openai
  const baseUrl = read.url(SETTINGS.openaiBaseUrl, "");
  const model = read.text(SETTINGS.openaiModel, "").trim();
  const apiKeyEnvRaw = read.raw(SETTINGS.openaiApiKeyEnv);
  let apiKeyEnv = read.text(SETTINGS.openaiApiKeyEnv, DEFAULTS.openaiApiKeyEnv).trim();
  const validName = /^[A-Za-z_][A-Za-z0-9_]*$/.test(apiKeyEnv);
  if (!validName) {
    read.report(
      SETTINGS.openaiApiKeyEnv,
      apiKeyEnvRaw,
      "is not the name of an environment variable (it names the variable that holds the key, not the key itself).",
      "Set agent.openai.api_key_env to a variable name such as OPENAI_API_KEY, and put the key in that variable.",
    );
    apiKeyEnv = DEFAULTS.openaiApiKeyEnv;
  }
  let apiKey = "";
  if (kind === "openai") {
    apiKey = String(fromEnv(read.layers, apiKeyEnv)?.value ?? "");
    if (apiKey === "" && apiKeyEnvRaw !== undefined && validName) {
      read.report(
        SETTINGS.openaiApiKeyEnv,
        apiKeyEnvRaw,
        `names ${apiKeyEnv}, which is not set.`,
        `Set ${apiKeyEnv} in the environment or .env to the API key, or remove agent.openai.api_key_env if the server needs no key.`,
      );
    }
    if (baseUrl === "" && read.raw(SETTINGS.openaiBaseUrl) === undefined) {
      read.report(
        SETTINGS.openaiBaseUrl,
        undefined,
        'is missing; the "openai" agent needs the server\'s URL.',
        `Set ${where(SETTINGS.openaiBaseUrl, undefined)} to e.g. https://api.openai.com/v1.`,
      );
    }
    if (model === "") {
      read.report(
        SETTINGS.openaiModel,
        read.raw(SETTINGS.openaiModel),
        'is missing; the "openai" agent needs a model name.',
        `Set ${where(SETTINGS.openaiModel, undefined)} to e.g. gpt-4o-mini.`,
      );
    }
  }
  const openai = {
    baseUrl,
    apiKey,
    apiKeyEnv,
    headers: validHeaders(read, SETTINGS.openaiHeaders),
    model,
    systemPrompt: read.text(SETTINGS.openaiSystemPrompt, ""),
    historyMaxBytes: read.integer(
      SETTINGS.openaiHistoryMaxBytes,
      DEFAULTS.openaiHistoryMaxBytes,
      { min: 1 },
    ),
  };

  // command
  const argv = read.list(SETTINGS.commandArgv, /\s+/) ?? [];
  if (
    kind === "command" && argv.length === 0 &&
    read.problems.every((p) => p.key !== SETTINGS.commandArgv.key)
  ) {
    reportSetTo(
      read,
      SETTINGS.commandArgv,
      'is missing; the "command" agent needs the program to run.',
      'to the program and its arguments, e.g. argv: ["hermes", "chat", "-Q", "-q", "{message}"].',
    );
  }
  const commandCwd = read.raw(SETTINGS.commandCwd) === undefined
    ? undefined
    : read.text(SETTINGS.commandCwd, "").trim();
  const commandEnv = readCommandEnv(read);
  const command = {
    argv,
    ...(commandCwd ? { cwd: resolvePath(cwd, commandCwd) } : {}),
    ...(commandEnv.passEnv.length > 0 ? { passEnv: commandEnv.passEnv } : {}),
    ...(Object.keys(commandEnv.env).length > 0 ? { env: commandEnv.env } : {}),
  };

  // http
  const url = read.url(SETTINGS.httpUrl, "");
  if (kind === "http" && url === "" && read.raw(SETTINGS.httpUrl) === undefined) {
    read.report(
      SETTINGS.httpUrl,
      undefined,
      'is missing; the "http" agent needs the URL to POST messages to.',
      `Set ${where(SETTINGS.httpUrl, undefined)} to e.g. http://127.0.0.1:8000/agent.`,
    );
  }
  const headers = validHeaders(read, SETTINGS.httpHeaders);

  const platformHint = read.boolean(SETTINGS.agentPlatformHint, true);

  return {
    kind,
    timeoutMs,
    workers,
    workerIdleMs,
    openai,
    command,
    http: { url, headers },
    platformHint,
    ...readAgentExtras(read, kind),
  };
}

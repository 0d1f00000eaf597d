/**
 * The catalogue of configuration keys: where each lives in `config.yaml`, which
 * environment variable sets it, and (for an app's credentials) where to find
 * the value in the WeCom admin console.
 *
 * Reading, validation, typo detection and error messages all take their names
 * from here, so a key is spelt in exactly one place.
 *
 * @example Usage
 * ```ts
 * import { APP_FIELDS, SETTINGS } from "./keys.ts";
 * console.assert(SETTINGS.port.env === "WECOM_CALLBACK_PORT");
 * console.assert(APP_FIELDS.length === 5);
 * ```
 *
 * @module
 */

/**
 * A top-level section only this gateway reads, in the shape of
 * `platforms.wecom_callback` (`enabled`, `extra`): when present, it is read
 * instead, so one config.yaml can serve Hermes and the gateway without
 * Hermes starting its own WeCom adapter (see `./gateway_section.ts`).
 */
export const GATEWAY_ONLY_SECTION = "wecom_gateway";

/** Path of Hermes's WeCom callback section in config.yaml. */
export const EXTRA_PATH = ["platforms", "wecom_callback", "extra"] as const;

/** One setting: its place in config.yaml and its environment variable. */
export interface SettingSpec {
  /** Path from the root of config.yaml. */
  yamlPath: readonly string[];
  /** Name shown in messages: the bare key under `extra`, else the dotted path. */
  key: string;
  /** Environment variable that overrides the file, if any. */
  env?: string;
}

function extra(key: string, env?: string): SettingSpec {
  return { yamlPath: [...EXTRA_PATH, key], key, env };
}

function section(path: string, env?: string): SettingSpec {
  return { yamlPath: path.split("."), key: path, env };
}

/** Every setting outside the app credentials. */
export const SETTINGS = {
  host: extra("host", "WECOM_CALLBACK_HOST"),
  port: extra("port", "WECOM_CALLBACK_PORT"),
  path: extra("path", "WECOM_CALLBACK_PATH"),
  apiBase: extra("api_base", "WECOM_CALLBACK_API_BASE"),
  allowedUsers: extra("allowed_users", "WECOM_CALLBACK_ALLOWED_USERS"),
  allowAllUsers: extra("allow_all_users", "WECOM_CALLBACK_ALLOW_ALL_USERS"),
  replayWindowSeconds: extra("replay_window_seconds", "WECOM_CALLBACK_REPLAY_WINDOW_SECONDS"),
  refusalNoticeSeconds: extra("refusal_notice_seconds"),
  refusalNoticeText: extra("refusal_notice_text"),
  markdown: extra("markdown", "WECOM_GATEWAY_MARKDOWN"),
  markdownPlainUsers: extra("markdown_plain_users", "WECOM_GATEWAY_MARKDOWN_PLAIN_USERS"),
  markdownDetectWeChat: extra("markdown_detect_wechat"),
  welcomeText: extra("welcome_text", "WECOM_GATEWAY_WELCOME_TEXT"),
  welcomeSeconds: extra("welcome_seconds"),
  welcomeOnEnter: extra("welcome_on_enter"),
  kv: section("gateway.kv", "WECOM_GATEWAY_KV"),
  logFormat: section("gateway.log_format", "LOG_FORMAT"),
  groupCommit: section("gateway.group_commit", "WECOM_GATEWAY_GROUP_COMMIT"),
  kvCheckSeconds: section("gateway.kv_check_seconds", "WECOM_GATEWAY_KV_CHECK_SECONDS"),
  httpIdleTimeoutSeconds: section(
    "gateway.http.idle_timeout_seconds",
    "WECOM_GATEWAY_HTTP_IDLE_TIMEOUT_SECONDS",
  ),
  httpHeaderTimeoutSeconds: section(
    "gateway.http.header_timeout_seconds",
    "WECOM_GATEWAY_HTTP_HEADER_TIMEOUT_SECONDS",
  ),
  httpMaxConnections: section("gateway.http.max_connections", "WECOM_GATEWAY_HTTP_MAX_CONNECTIONS"),
  httpFront: section("gateway.http.front", "WECOM_GATEWAY_HTTP_FRONT"),
  jobsConcurrency: section("gateway.jobs.concurrency", "WECOM_GATEWAY_CONCURRENCY"),
  jobsLeaseSeconds: section("gateway.jobs.lease_seconds"),
  jobsMaxAttempts: section("gateway.jobs.max_attempts"),
  jobsWorkingNoticeSeconds: section("gateway.jobs.working_notice_seconds"),
  jobsWorkingNoticeText: section("gateway.jobs.working_notice_text"),
  jobsRecallWorkingNotice: section("gateway.jobs.recall_working_notice"),
  jobsPollMs: section("gateway.jobs.poll_ms"),
  deliveryMaxAttempts: section("gateway.delivery.max_attempts"),
  deliveryRetryWindowMinutes: section("gateway.delivery.retry_window_minutes"),
  deliveryRetryMaxBackoffSeconds: section("gateway.delivery.retry_max_backoff_seconds"),
  deliveryPerMinute: section("gateway.delivery.per_minute"),
  deliveryPerHour: section("gateway.delivery.per_hour"),
  deliveryRequestTimeoutSeconds: section("gateway.delivery.request_timeout_seconds"),
  agentKind: section("agent.kind", "WECOM_GATEWAY_AGENT"),
  agentTimeoutSeconds: section("agent.timeout_seconds", "WECOM_GATEWAY_AGENT_TIMEOUT_SECONDS"),
  agentWorkers: section("agent.workers"),
  agentWorkerIdleSeconds: section("agent.worker_idle_seconds"),
  openaiBaseUrl: section("agent.openai.base_url", "WECOM_GATEWAY_OPENAI_BASE_URL"),
  openaiApiKeyEnv: section("agent.openai.api_key_env"),
  openaiModel: section("agent.openai.model", "WECOM_GATEWAY_OPENAI_MODEL"),
  openaiSystemPrompt: section("agent.openai.system_prompt"),
  openaiHistoryMaxBytes: section("agent.openai.history_max_bytes"),
  commandArgv: section("agent.command.argv", "WECOM_GATEWAY_COMMAND"),
  commandCwd: section("agent.command.cwd"),
  commandEnv: section("agent.command.env", "WECOM_GATEWAY_COMMAND_ENV"),
  httpUrl: section("agent.http.url", "WECOM_GATEWAY_HTTP_URL"),
  httpHeaders: section("agent.http.headers"),
  agentPlatformHint: section("agent.platform_hint"),
  agentFailureText: section("agent.failure_text", "WECOM_GATEWAY_FAILURE_TEXT"),
  agentTruncationMarker: section("agent.truncation_marker"),
  openaiHeaders: section("agent.openai.headers"),
  hermesBaseUrl: section("agent.hermes.base_url", "WECOM_GATEWAY_HERMES_URL"),
  hermesApiKeyEnv: section("agent.hermes.api_key_env"),
  hermesModel: section("agent.hermes.model", "WECOM_GATEWAY_HERMES_MODEL"),
  hermesSystemPrompt: section("agent.hermes.system_prompt"),
  hermesHeaders: section("agent.hermes.headers"),
  hermesRevealIds: section("agent.hermes.reveal_ids"),
  mediaDir: section("gateway.media.dir", "WECOM_GATEWAY_MEDIA_DIR"),
  mediaMaxBytes: section("gateway.media.max_bytes"),
  mediaRetentionHours: section("gateway.media.retention_hours"),
  mediaUploadRoots: section("gateway.media.upload_roots", "WECOM_GATEWAY_UPLOAD_ROOTS"),
  transcriptionBaseUrl: section(
    "gateway.media.transcription.base_url",
    "WECOM_GATEWAY_TRANSCRIPTION_BASE_URL",
  ),
  transcriptionModel: section("gateway.media.transcription.model"),
  transcriptionApiKeyEnv: section("gateway.media.transcription.api_key_env"),
  transcriptionLanguage: section("gateway.media.transcription.language"),
  transcriptionFfmpeg: section("gateway.media.transcription.ffmpeg"),
  operatorHost: section("gateway.operator.host", "WECOM_GATEWAY_OPERATOR_HOST"),
  operatorPort: section("gateway.operator.port", "WECOM_GATEWAY_OPERATOR_PORT"),
  operatorToken: section("gateway.operator.token", "WECOM_GATEWAY_OPERATOR_TOKEN"),
} as const satisfies Record<string, SettingSpec>;

/** The five credentials of one WeCom app. */
export type AppFieldKey = "corp_id" | "corp_secret" | "agent_id" | "token" | "encoding_aes_key";

/** One app credential and where an administrator finds it. */
export interface AppField {
  key: AppFieldKey;
  /** Variable for the single app configured through the environment. */
  env: string;
  /** Name in the WeCom admin console. */
  label: string;
  /** Where to find (or generate) it in the admin console (https://work.weixin.qq.com/wework_admin). */
  where: string;
  /** True when the value must never be shown. */
  secret: boolean;
}

/** The app credentials in the order WeCom's admin console shows them. */
export const APP_FIELDS: readonly AppField[] = [
  {
    key: "corp_id",
    env: "WECOM_CALLBACK_CORP_ID",
    label: "CorpID (企业ID)",
    where: "My Company (我的企业) → Company Information (企业信息), at the bottom; starts with ww",
    secret: false,
  },
  {
    key: "corp_secret",
    env: "WECOM_CALLBACK_CORP_SECRET",
    label: "Secret",
    where:
      "App Management (应用管理) → your self-built app → Secret → View (查看); it is sent to your WeCom client",
    secret: true,
  },
  {
    key: "agent_id",
    env: "WECOM_CALLBACK_AGENT_ID",
    label: "AgentId",
    where:
      "App Management (应用管理) → your self-built app, next to the Secret; digits like 1000002",
    secret: false,
  },
  {
    key: "token",
    env: "WECOM_CALLBACK_TOKEN",
    label: "Token",
    where:
      "your app → Receive Messages (接收消息) → Set API Receive (设置API接收) → Token (Random/随机获取 makes one)",
    secret: true,
  },
  {
    key: "encoding_aes_key",
    env: "WECOM_CALLBACK_ENCODING_AES_KEY",
    label: "EncodingAESKey",
    where:
      "your app → Receive Messages (接收消息) → Set API Receive (设置API接收) → EncodingAESKey (43 characters)",
    secret: true,
  },
];

/** Keys allowed in one entry of `extra.apps`. */
export const APP_ENTRY_KEYS: readonly string[] = [
  "name",
  ...APP_FIELDS.map((field) => field.key),
  "api_base",
];

/** Keys allowed directly under `platforms.wecom_callback.extra`. */
export const EXTRA_KEYS: readonly string[] = [
  "name",
  ...APP_FIELDS.map((field) => field.key),
  "apps",
  "host",
  "port",
  "path",
  "api_base",
  "allowed_users",
  "allow_all_users",
  "replay_window_seconds",
  "refusal_notice_seconds",
  "refusal_notice_text",
  "markdown",
  "markdown_plain_users",
  "markdown_detect_wechat",
  "welcome_text",
  "welcome_seconds",
  "welcome_on_enter",
];

/** Our keys directly under `agent:` (Hermes keeps its own keys there too). */
export const AGENT_KEYS: readonly string[] = [
  "kind",
  "timeout_seconds",
  "workers",
  "worker_idle_seconds",
  "openai",
  "command",
  "http",
  "platform_hint",
  "hermes",
  "failure_text",
  "truncation_marker",
];

/** Our keys directly under `gateway:` (Hermes keeps its own keys there too). */
export const GATEWAY_KEYS: readonly string[] = [
  "kv",
  "log_format",
  "group_commit",
  "kv_check_seconds",
  "http",
  "jobs",
  "delivery",
  "media",
  "operator",
];

/** Keys of our own sub-sections, by dotted section path. */
export const SECTION_KEYS: Readonly<Record<string, readonly string[]>> = {
  "agent.openai": [
    "base_url",
    "api_key_env",
    "model",
    "system_prompt",
    "history_max_bytes",
    "headers",
  ],
  "agent.hermes": ["base_url", "api_key_env", "model", "system_prompt", "headers", "reveal_ids"],
  "agent.command": ["argv", "cwd", "env"],
  "agent.http": ["url", "headers"],
  "gateway.jobs": [
    "concurrency",
    "lease_seconds",
    "max_attempts",
    "working_notice_seconds",
    "working_notice_text",
    "recall_working_notice",
    "poll_ms",
  ],
  "gateway.http": ["idle_timeout_seconds", "header_timeout_seconds", "max_connections", "front"],
  "gateway.delivery": [
    "max_attempts",
    "per_minute",
    "per_hour",
    "request_timeout_seconds",
    "retry_window_minutes",
    "retry_max_backoff_seconds",
  ],
  "gateway.media": ["dir", "max_bytes", "retention_hours", "upload_roots", "transcription"],
  "gateway.media.transcription": ["base_url", "model", "api_key_env", "language", "ffmpeg"],
  "gateway.operator": ["host", "port", "token"],
};

/** Every environment variable we read, besides the one named by `agent.openai.api_key_env`. */
export const ENV_VARS: readonly string[] = [
  ...APP_FIELDS.map((field) => field.env),
  ...Object.values(SETTINGS).flatMap((spec: SettingSpec) => spec.env ? [spec.env] : []),
  "WECOM_GATEWAY_CONFIG",
];

/** Prefixes of variables that are ours: an unknown one that looks like a typo is reported. */
export const ENV_PREFIXES: readonly string[] = ["WECOM_CALLBACK_", "WECOM_GATEWAY_"];

/** Common other spellings (normalised: lower case, no `_`/`-`) and what they mean. */
export const KEY_ALIASES: Readonly<Record<string, string>> = {
  aeskey: "encoding_aes_key",
  encodingaeskey: "encoding_aes_key",
  encodingkey: "encoding_aes_key",
  secret: "corp_secret",
  appsecret: "corp_secret",
  agentsecret: "corp_secret",
  corpsecret: "corp_secret",
  agentid: "agent_id",
  appid: "agent_id",
  corpid: "corp_id",
  callbacktoken: "token",
  allowfrom: "allowed_users",
  allowedusers: "allowed_users",
  allowlist: "allowed_users",
  whitelist: "allowed_users",
  allowall: "allow_all_users",
  baseurl: "api_base",
  apibaseurl: "api_base",
};

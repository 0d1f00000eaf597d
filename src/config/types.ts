/**
 * The validated configuration of one gateway process.
 *
 * Produced by `loadConfig()` in `./load.ts` from `config.yaml`
 * (`platforms.wecom_callback.extra`, Hermes Agent compatible), `.env` and the
 * environment (which wins). Every other module takes its settings from here and
 * never reads the environment itself.
 *
 * @module
 */

/** One WeCom self-built application (企业自建应用). */
export interface AppConfig {
  /** Unique name; also the extra callback path `<path>/<name>`. "default" for the flat single-app form. */
  name: string;
  /** CorpID (ww… / wx…): the receive id inside every encrypted payload. */
  corpId: string;
  /** The app's Secret, used for `gettoken`. Never logged. */
  corpSecret: string;
  /** AgentId, digits only, kept as a string. */
  agentId: string;
  /** Callback Token: letters and digits, at most 32. Never logged. */
  token: string;
  /** EncodingAESKey: exactly 43 characters of [A-Za-z0-9]. Never logged. */
  encodingAesKey: string;
  /** API base URL without a trailing slash, e.g. `https://qyapi.weixin.qq.com`. */
  apiBase: string;
}

/** Which agent backend answers messages. */
export type AgentKind = "echo" | "openai" | "command" | "http";

/** Settings of the agent backends (the `agent:` section of config.yaml). */
export interface AgentConfig {
  kind: AgentKind;
  /** Per-job timeout in milliseconds (default 30 min). */
  timeoutMs: number;
  /** Number of Web Workers in the pool (default: same as `jobs.concurrency`). */
  workers: number;
  openai: {
    baseUrl: string;
    /** Read from the environment variable named by `apiKeyEnv` (default OPENAI_API_KEY). */
    apiKey: string;
    model: string;
    systemPrompt: string;
    /** Upper bound of the stored history per conversation, in UTF-8 bytes of content. */
    historyMaxBytes: number;
  };
  command: {
    /** Program and arguments, e.g. ["hermes", "chat", "--stdin"]. */
    argv: string[];
    cwd?: string;
  };
  http: {
    url: string;
    /** Extra request headers (e.g. Authorization). Never logged. */
    headers: Record<string, string>;
  };
}

/** Settings of the job runner. */
export interface JobsConfig {
  /** Jobs running at once in this process (default 4). */
  concurrency: number;
  /** Lease length in milliseconds; renewed by heartbeat at a third of it (default 60 s). */
  leaseMs: number;
  /** Attempts before a job that keeps losing its runner becomes dead (default 3). */
  maxAttempts: number;
  /** Delay before the one "working on it" notice, ms; 0 turns it off (default 60 s). */
  workingNoticeMs: number;
  /** Text of that notice. */
  workingNoticeText: string;
  /** Recall the notice when the reply arrives (default true). */
  recallWorkingNotice: boolean;
  /** Poll interval for new jobs when no wake-up arrives, ms (default 1000). */
  pollMs: number;
}

/** Settings of reply delivery. */
export interface DeliveryConfig {
  /** Send replies as WeCom `markdown` instead of `text` (default false). */
  markdown: boolean;
  /** Attempts for one message before it becomes a dead letter (default 8). */
  maxAttempts: number;
  /** Per app and member: at most this many messages a minute (WeCom: 30). */
  perMinute: number;
  /** Per app and member: at most this many messages an hour (WeCom: 1000). */
  perHour: number;
  /** HTTP timeout of one WeCom API call, ms (default 10 s). */
  requestTimeoutMs: number;
}

/** Who may talk to the agent. */
export interface AccessConfig {
  /** `*` allows everyone. */
  allowAll: boolean;
  /** Entries `user` (any corp) or `corp:user`. */
  allowedUsers: string[];
  /** Seconds between notices to a refused user; 0 never notifies (default 86400). */
  refusalNoticeSeconds: number;
  /** Text of the refusal notice. */
  refusalNoticeText: string;
}

/** The whole validated configuration. */
export interface GatewayConfig {
  apps: AppConfig[];
  host: string;
  port: number;
  /** Callback path, starts with "/", no trailing slash (default `/wecom/callback`). */
  path: string;
  /** Refuse callbacks whose timestamp is further than this from now, seconds; 0 = off (default 300). */
  replayWindowSeconds: number;
  /** Deno KV location: a file path, `:memory:` or a KV Connect URL (default `./data/wecom-gateway.sqlite3`). */
  kvPath: string;
  access: AccessConfig;
  agent: AgentConfig;
  jobs: JobsConfig;
  delivery: DeliveryConfig;
  /** `human` (default) or `json` (LOG_FORMAT=json). */
  logFormat: "human" | "json";
}

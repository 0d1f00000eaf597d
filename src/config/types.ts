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

import type { ConfigProblem } from "./errors.ts";

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
export type AgentKind = "echo" | "openai" | "command" | "http" | "hermes";

/** The apology a member gets when their request finally fails, by language. */
export interface FailureText {
  /** For members who write Chinese. */
  zh: string;
  /** For everyone else. */
  en: string;
}

/** Settings of the hermes backend: Hermes Agent's API server (`agent.hermes`). */
export interface HermesConfig {
  /** Base URL including `/v1` (default `http://127.0.0.1:8642/v1`). */
  baseUrl: string;
  /** Hermes' `API_SERVER_KEY`, read from the variable named by `apiKeyEnv`. */
  apiKey: string;
  /** The variable holding the key (default `API_SERVER_KEY`). */
  apiKeyEnv: string;
  /** Model name sent (default `hermes-agent`, what Hermes lists). */
  model: string;
  /** Extra system prompt sent with each message (default none: Hermes has its own). */
  systemPrompt: string;
  /** Extra request headers. Never logged. */
  headers: Record<string, string>;
  /** Send raw `corp_id:user_id` as session and member ids instead of opaque ones (default false). */
  revealIds: boolean;
}

/** Settings of the agent backends (the `agent:` section of config.yaml). */
export interface AgentConfig {
  kind: AgentKind;
  /** Per-job timeout in milliseconds (default 30 min). */
  timeoutMs: number;
  /** Number of Web Workers in the pool (default: same as `jobs.concurrency`). */
  workers: number;
  /**
   * A worker idle this long is terminated, freeing its memory (~4.5 MiB); the
   * pool starts one again (~90 ms) when work comes. 0 keeps workers for good.
   * Default 60 s when absent.
   */
  workerIdleMs?: number;
  openai: {
    baseUrl: string;
    /** Read from the environment variable named by `apiKeyEnv` (default OPENAI_API_KEY). */
    apiKey: string;
    model: string;
    systemPrompt: string;
    /** Upper bound of the stored history per conversation, in UTF-8 bytes of content. */
    historyMaxBytes: number;
    /** The variable the key was read from, for error messages (default OPENAI_API_KEY). */
    apiKeyEnv?: string;
    /** Extra request headers (`agent.openai.headers`). Never logged. */
    headers?: Record<string, string>;
  };
  /** Settings of `kind: hermes` (absent: defaults). */
  hermes?: HermesConfig;
  /** Appended to an answer the model cut short (`agent.truncation_marker`). */
  truncationMarker?: string;
  /** What a member is told when their request finally fails (`agent.failure_text`). */
  failureText?: FailureText;
  command: {
    /** Program and arguments, e.g. ["hermes", "chat", "-Q", "-q"] (the message is appended). */
    argv: string[];
    cwd?: string;
    /**
     * Variables of the gateway's environment passed on to the program by name
     * (`agent.command.env` as a list, or a name without a value in its mapping).
     * The program otherwise gets only PATH, HOME, LANG, LC_ALL, LC_CTYPE, TZ,
     * TMPDIR and the WECOM_* context.
     */
    passEnv?: string[];
    /** Variables set for the program (`agent.command.env` as a mapping of name to value). */
    env?: Record<string, string>;
  };
  http: {
    url: string;
    /** Extra request headers (e.g. Authorization). Never logged. */
    headers: Record<string, string>;
  };
  /**
   * Tell the agent what WeCom renders and what it can send (markdown subset,
   * media types and limits, the 2048-byte split), in the openai backend's
   * system prompt (default true; absent means true).
   */
  platformHint?: boolean;
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
  /**
   * Deprecated and ignored (`gateway.delivery.max_attempts`): retries of a
   * failing send now last `retryWindowMs`. Kept so that old settings still load.
   */
  maxAttempts?: number;
  /**
   * How long a send that fails for a reason WeCom may get over (busy, rate
   * limit, HTTP 5xx, network, 60020) is retried, counted from its first
   * attempt, ms (default 30 min); then it becomes a dead letter.
   */
  retryWindowMs?: number;
  /** Largest back-off between two retries of a send, ms (default 5 min). */
  retryMaxBackoffMs?: number;
  /** Per app and member: at most this many messages a minute (WeCom: 30). */
  perMinute: number;
  /** Per app and member: at most this many messages an hour (WeCom: 1000). */
  perHour: number;
  /** HTTP timeout of one WeCom API call, ms (default 10 s). */
  requestTimeoutMs: number;
  /**
   * Members who get plain text instead of markdown (WeChat-plugin users, who
   * cannot see WeCom markdown): entries `user` or `corp:user`. Absent: none.
   */
  plainTextUsers?: string[];
  /**
   * Treat members whose location messages arrive without `AppType` (sent from
   * WeChat rather than the WeCom app) as plain-text users (default true).
   */
  detectWeChat?: boolean;
}

/** Speech-to-text of inbound voice messages through an OpenAI-compatible API. */
export interface TranscriptionConfig {
  /** Base URL of the API (…/v1); empty turns transcription off (default). */
  baseUrl: string;
  /** Model name (default `whisper-1`). */
  model: string;
  /** Read from the variable named by `api_key_env` (default OPENAI_API_KEY); may be empty. */
  apiKey: string;
  /** ISO-639-1 language hint, e.g. `zh`; empty lets the model detect it. */
  language: string;
  /** Path of ffmpeg to convert AMR to WAV first (OpenAI does not take AMR); empty: send AMR. */
  ffmpeg: string;
}

/** Files in and out: the `gateway.media` section. */
export interface MediaConfig {
  /** The attachment store (absolute): inbound files, and files written for replies. */
  dir: string;
  /** Largest inbound file downloaded from WeCom, bytes (default 20 MB). */
  maxBytes: number;
  /** Files in the store older than this many hours are deleted; 0 keeps them (default 72). */
  retentionHours: number;
  /**
   * Folders (absolute) an outbound attachment may come from, besides the
   * conversation's own folders in the store; any other path is refused.
   * Default: `agent.command.cwd` when set.
   */
  uploadRoots: string[];
  transcription: TranscriptionConfig;
}

/** The welcome message sent on `subscribe` and `enter_agent` events. */
export interface WelcomeConfig {
  /** The text; empty sends none (default). */
  text: string;
  /** At most one welcome per member per this many seconds (default 86400). */
  periodSeconds: number;
  /** Also welcome on `enter_agent` (the member opens the app), not only `subscribe` (default true). */
  onEnter: boolean;
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

/**
 * The operator listener: `/metrics` and the operator console, apart from the
 * public callback listener (`gateway.operator`).
 */
export interface OperatorConfig {
  /** Address to bind (default 127.0.0.1; any other needs `token`). */
  host: string;
  /** Port (default 8646); 0 here binds any free port (tests: the loader turns port 0 off). */
  port: number;
  /** Bearer token every request but `/health` must carry; empty: none (loopback only). Never logged. */
  token: string;
}

/** How the callback server bounds its connections: the `gateway.http` section. */
export interface HttpConfig {
  /** Close a connection with no request in progress after this long without a byte, ms (default 60 s). */
  idleTimeoutMs: number;
  /** Close a connection whose request head is not complete this long after it began, ms (default 5 s). */
  headerTimeoutMs: number;
  /** Connections held at once (default 1024; lowered to fit the open-files limit). */
  maxConnections: number;
  /**
   * Serve through the in-process front that enforces the three bounds above
   * (default true). False serves with `Deno.serve` alone, unbounded: only
   * behind a reverse proxy that bounds connections, or on Deno Deploy.
   */
  front: boolean;
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
  media: MediaConfig;
  welcome: WelcomeConfig;
  /**
   * Combine the KV commits of concurrent callbacks, job claims and sends into
   * one durable commit each (default true; WECOM_GATEWAY_GROUP_COMMIT=0 turns it off).
   */
  groupCommit: boolean;
  /** Connection bounds of the callback server (absent: the defaults). */
  http?: HttpConfig;
  /**
   * How often the KV file's identity is checked, ms (default 2 s; 0 = never).
   * A file deleted or replaced under a running gateway stops it.
   */
  kvCheckMs?: number;
  /** `human` (default) or `json` (LOG_FORMAT=json). */
  logFormat: "human" | "json";
  /** The operator listener; absent: none (`gateway.operator.port: 0`). */
  operator?: OperatorConfig;
  /**
   * Settings that still work but should change (e.g. a deprecated key), to be
   * shown at start; never errors.
   */
  warnings?: ConfigProblem[];
}

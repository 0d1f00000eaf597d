/**
 * Every Deno KV key the gateway uses, built in one place.
 *
 * Modules never spell a key themselves: they call these builders, so the
 * schema can be read (and changed) here. Values that must expire carry their
 * own `expiresAt` (epoch ms), because `expireIn` is lazy.
 *
 * @example Usage
 * ```ts
 * import { keys } from "./keys.ts";
 * const key = keys.job("01J…"); // ["job", "01J…"]
 * ```
 *
 * @module
 */

/** Key builders, grouped by the module that owns the data. */
export const keys = {
  // intake
  /**
   * Dedupe marker of one message: MsgId (or event body hash) scoped by corp, not by
   * app, so that no choice of app turns one WeCom message into two jobs. (Before,
   * the key also held the AgentID: `["dedupe", corp, agent, key]`; such markers
   * expire within a day and are not read any more.)
   */
  dedupe: (corpId: string, messageKey: string): Deno.KvKey => ["dedupe", corpId, messageKey],
  /** Last refusal notice sent to a member not on the allowlist: `{ at }`. */
  refusalNotice: (corpId: string, userId: string): Deno.KvKey => ["refusal", corpId, userId],

  // jobs
  /** The job record (`JobRecord`). */
  job: (id: string): Deno.KvKey => ["job", id],
  /** Prefix of all job records. */
  jobPrefix: (): Deno.KvKey => ["job"],
  /** Queued jobs of a conversation, in id order: value is the job id. */
  conversationQueue: (conversation: string, id: string): Deno.KvKey => ["conv_q", conversation, id],
  conversationQueuePrefix: (conversation: string): Deno.KvKey => ["conv_q", conversation],
  /**
   * Conversations that may have a runnable job: `["ready", jobId]` → conversation. Written for
   * each new job and whenever a job ends; the claimer consumes these hints (see src/records/job_store/).
   */
  ready: (id: string): Deno.KvKey => ["ready", id],
  readyPrefix: (): Deno.KvKey => ["ready"],
  /** Running jobs, for the sweeper: value `{ until }` mirrors the lease. */
  running: (id: string): Deno.KvKey => ["running", id],
  runningPrefix: (): Deno.KvKey => ["running"],
  /** Lock of a conversation while one of its jobs runs: value `{ jobId, until }`. */
  conversationLock: (conversation: string): Deno.KvKey => ["conv_lock", conversation],
  /**
   * Bumped by every job end, `/stop` and job recorded outside the callback
   * server (`jobs rerun`); every runner watches it as a wake-up.
   */
  wake: (): Deno.KvKey => ["wake"],
  /**
   * Bumped by every job the callback server records. Runners in other
   * processes watch it; the runner beside the callback server (role `all`)
   * does not, as the intake wakes it directly.
   */
  intakeWake: (): Deno.KvKey => ["wake_intake"],
  /** Finished jobs by state, for `jobs` listings: value is the job id. */
  jobsByState: (state: string, id: string): Deno.KvKey => ["job_state", state, id],
  jobsByStatePrefix: (state: string): Deno.KvKey => ["job_state", state],
  /** Queued command jobs (`/stop`, `/status`, …); they skip the conversation lock. → conversation. */
  commandReady: (id: string): Deno.KvKey => ["ready_cmd", id],
  commandReadyPrefix: (): Deno.KvKey => ["ready_cmd"],
  /** `/stop` asked the runner of this job to cancel it: `{ at, expiresAt }`. */
  jobCancel: (id: string): Deno.KvKey => ["job_cancel", id],

  // agent
  /** Conversation history of the openai backend (`HistoryTurn[]`). */
  history: (conversation: string): Deno.KvKey => ["history", conversation],
  /** Conversation epoch: bumped by `/reset`, part of the agent's session id (`number`). */
  conversationEpoch: (conversation: string): Deno.KvKey => ["conv_epoch", conversation],
  /** Per-installation secret the opaque agent session ids are derived from (32 random bytes). */
  sessionSecret: (): Deno.KvKey => ["session_secret"],

  // wecom API
  /** Cached access token of an app: `{ token, expiresAt }`. */
  accessToken: (corpId: string, agentId: string): Deno.KvKey => ["token", corpId, agentId],
  /** Single-flight lock of a token refresh across processes: `{ owner, until }`. */
  accessTokenLock: (corpId: string, agentId: string): Deno.KvKey => ["token_lock", corpId, agentId],
  /** Sticky credential failure (40001, 40013, …): `{ errcode, message, at }`; stops gettoken. */
  credentialFailure: (
    corpId: string,
    agentId: string,
  ): Deno.KvKey => ["token_fail", corpId, agentId],
  /** Health of an app as delivery sees it (last errcode, 60020 seen, …). */
  appStatus: (app: string): Deno.KvKey => ["app_status", app],
  /** Prefix of every app's status (the `jobs stats` command lists them all). */
  appStatusPrefix: (): Deno.KvKey => ["app_status"],

  // delivery
  /** An outbox item (`OutboxItem`). */
  outbox: (id: string): Deno.KvKey => ["outbox", id],
  outboxPrefix: (): Deno.KvKey => ["outbox"],
  /** Pending items of a conversation in id order: value is the item id. */
  outboxQueue: (conversation: string, id: string): Deno.KvKey => ["out_q", conversation, id],
  outboxQueuePrefix: (conversation: string): Deno.KvKey => ["out_q", conversation],
  /** Conversations with pending items: `["out_ready", conversation]` → `{ notBefore }`. */
  outboxReady: (conversation: string): Deno.KvKey => ["out_ready", conversation],
  outboxReadyPrefix: (): Deno.KvKey => ["out_ready"],
  /** Sends to one member through one app in the last hour, for pacing. */
  pacing: (corpId: string, agentId: string, userId: string): Deno.KvKey => [
    "pace",
    corpId,
    agentId,
    userId,
  ],
  /** Prefix of the pacing records of one app's members. */
  pacingPrefix: (corpId: string, agentId: string): Deno.KvKey => ["pace", corpId, agentId],
  /**
   * Identical texts sent to one member through one app within WeCom's
   * duplicate-check interval (`DuplicateRecord` of src/delivery/duplicate_check.ts),
   * by a hash of the message.
   */
  duplicateCheck: (
    corpId: string,
    agentId: string,
    userId: string,
    hash: Uint8Array,
  ): Deno.KvKey => [
    "dup_check",
    corpId,
    agentId,
    userId,
    hash,
  ],
  /** Dead letters: value is the outbox item id. */
  deadLetter: (id: string): Deno.KvKey => ["dead", id],
  deadLetterPrefix: (): Deno.KvKey => ["dead"],
  /** Bumped by every new outbox item; the delivery loop watches it. */
  outboxWake: (): Deno.KvKey => ["out_wake"],

  // cli
  /** Written and deleted at once by `check` to prove the KV location is writable. */
  checkProbe: (id: string): Deno.KvKey => ["check_probe", id],

  // operator console
  /** The last URL-verification GET seen on a path (`VerificationRecord`), for the console. */
  verification: (path: string): Deno.KvKey => ["verification", path],
  verificationPrefix: (): Deno.KvKey => ["verification"],

  // media
  /** Last welcome sent to a member (subscribe / enter_agent): `{ at, expiresAt }`. */
  welcome: (corpId: string, userId: string): Deno.KvKey => ["welcome", corpId, userId],
  /**
   * Which client a member was last seen writing from (`wechat` for the WeChat plugin,
   * `wxwork` for the WeCom app), for the markdown fallback: `{ client, at, expiresAt }`.
   */
  clientKind: (corpId: string, userId: string): Deno.KvKey => ["client_kind", corpId, userId],
} as const;

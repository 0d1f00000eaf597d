/**
 * The world of a fault test around gateway subprocesses: a temporary
 * directory with the KV file, config.yaml and the agent script, a simulated
 * WeCom API in this process with one app of fresh credentials, and helpers
 * that seal and post callbacks exactly as WeCom does.
 *
 * The agent is the `command` backend running a small shell script that logs
 * its start and end (with the job id) to `runsFile`, sleeps `agentSeconds`,
 * then echoes the message (`cat`): so a reply's content is its message's
 * content, and agent runs can be counted per job.
 *
 * @example Usage
 * ```ts ignore
 * import { createHarness } from "./harness.ts";
 * const h = await createHarness({ leaseSeconds: 2, requestTimeoutSeconds: 1 });
 * try {
 *   const gateway = await h.start();
 *   const status = await h.post(gateway, await h.callback("lisi", "hello", "1"));
 *   await gateway.kill();
 * } finally {
 *   await h.close();
 * }
 * ```
 *
 * @module
 */

import type { AppConfig } from "../../../src/config/types.ts";
import type { SealedCallback } from "../../../src/simulator/seal.ts";
import type { FakeWeComApi, FakeWeComOptions } from "../../../src/simulator/wecom_api.ts";

/** The suite's one polling helper, re-exported for the benchmarks that import it from here. */
export { waitFor } from "../../lib/wait.ts";
import { startFakeWeComApp } from "../../fakes/wecom_app.ts";
import { type GatewayProcess, type ProcessRole, startGatewayProcess } from "./gateway_process.ts";

/** Agent runs read from the script's log. */
export interface AgentRuns {
  /** Job id of every run started, in order. */
  started: string[];
  /** Job id of every run finished. */
  finished: string[];
  /** Runs started per process name (`FAULTS_PROCESS`). */
  byProcess: Map<string, number>;
}

/** Options of {@linkcode createHarness}; the gateway's settings go into config.yaml. */
export interface HarnessOptions {
  /** `gateway.jobs.lease_seconds` (default 2). */
  leaseSeconds?: number;
  /** `gateway.jobs.poll_ms` (default 100). */
  pollMs?: number;
  /** `gateway.jobs.concurrency` (default 4). */
  concurrency?: number;
  /** `gateway.jobs.max_attempts` (default 10: crashes must not turn jobs dead in a test). */
  jobMaxAttempts?: number;
  /** `gateway.delivery.request_timeout_seconds` (default 1). */
  requestTimeoutSeconds?: number;
  /** `gateway.delivery.retry_window_minutes` (default 30). */
  retryWindowMinutes?: number;
  /** `replay_window_seconds` (default 300). */
  replayWindowSeconds?: number;
  /** How long one agent run sleeps before answering, seconds (default 0.4). */
  agentSeconds?: number;
  /** Options of the simulated WeCom API (`apps` is set by the harness). */
  api?: Omit<FakeWeComOptions, "apps">;
  /** Extra environment of the gateway. */
  env?: Record<string, string>;
}

/** A started harness. */
export interface Harness {
  dir: string;
  kvPath: string;
  configPath: string;
  /** Lines `start <jobId>` and `end <jobId>` of the agent script. */
  runsFile: string;
  app: AppConfig;
  api: FakeWeComApi;
  /** The gateway's environment. */
  env: Record<string, string>;
  /**
   * Starts a gateway subprocess on the harness's KV file; `name` also reaches
   * the agent script (`FAULTS_PROCESS`), so runs can be told apart per process.
   */
  start(
    role?: ProcessRole,
    name?: string,
    env?: Record<string, string>,
    openFilesLimit?: number,
  ): Promise<GatewayProcess>;
  /** A sealed text callback from `user` (timestamp: now, or `timestamp` in epoch seconds). */
  callback(
    user: string,
    content: string,
    msgId: string,
    timestamp?: number,
  ): Promise<SealedCallback>;
  /** POSTs a sealed callback; the HTTP status, or 0 when no answer came (connection failed). */
  post(
    gateway: GatewayProcess | string,
    sealed: SealedCallback,
    timeoutMs?: number,
  ): Promise<number>;
  /** Agent runs started and finished so far, as job ids (one entry per run). */
  agentRuns(): Promise<AgentRuns>;
  /** Closes the API and removes the directory (kill the gateways first). */
  close(): Promise<void>;
}

function configYaml(options: HarnessOptions): string {
  return [
    "platforms:",
    "  wecom_callback:",
    "    extra:",
    `      replay_window_seconds: ${options.replayWindowSeconds ?? 300}`,
    "agent:",
    "  kind: command",
    "  timeout_seconds: 60",
    "gateway:",
    "  jobs:",
    `    concurrency: ${options.concurrency ?? 4}`,
    `    lease_seconds: ${options.leaseSeconds ?? 2}`,
    `    max_attempts: ${options.jobMaxAttempts ?? 10}`,
    "    working_notice_seconds: 0",
    `    poll_ms: ${options.pollMs ?? 100}`,
    "  delivery:",
    `    retry_window_minutes: ${options.retryWindowMinutes ?? 30}`,
    `    request_timeout_seconds: ${options.requestTimeoutSeconds ?? 1}`,
    "",
  ].join("\n");
}

function agentScript(runsFile: string, seconds: number): string {
  return [
    "#!/bin/sh",
    `echo "start $WECOM_JOB_ID $FAULTS_PROCESS" >> '${runsFile}'`,
    `sleep ${seconds}`,
    "cat",
    `echo "end $WECOM_JOB_ID" >> '${runsFile}'`,
    "",
  ].join("\n");
}

/**
 * Creates the directory, the simulated API and the gateway's environment.
 *
 * @example Usage
 * ```ts ignore
 * const h = await createHarness({ agentSeconds: 0.5 });
 * const gateway = await h.start();
 * ```
 */
export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = await Deno.makeTempDir({ prefix: "wecom-faults-" });
  const kvPath = `${dir}/kv.sqlite3`;
  const configPath = `${dir}/config.yaml`;
  const runsFile = `${dir}/agent-runs.log`;
  const scriptPath = `${dir}/agent.sh`;
  await Deno.writeTextFile(configPath, configYaml(options));
  await Deno.writeTextFile(runsFile, "");
  await Deno.writeTextFile(scriptPath, agentScript(runsFile, options.agentSeconds ?? 0.4));
  await Deno.chmod(scriptPath, 0o755);

  const { app, api, sealText } = await startFakeWeComApp({ name: "default", api: options.api });
  const env: Record<string, string> = {
    WECOM_CALLBACK_CORP_ID: app.corpId,
    WECOM_CALLBACK_CORP_SECRET: app.corpSecret,
    WECOM_CALLBACK_AGENT_ID: app.agentId,
    WECOM_CALLBACK_TOKEN: app.token,
    WECOM_CALLBACK_ENCODING_AES_KEY: app.encodingAesKey,
    WECOM_CALLBACK_HOST: "127.0.0.1",
    WECOM_CALLBACK_PORT: "0",
    WECOM_CALLBACK_API_BASE: api.url,
    WECOM_CALLBACK_ALLOW_ALL_USERS: "true",
    WECOM_GATEWAY_KV: kvPath,
    WECOM_GATEWAY_AGENT: "command",
    WECOM_GATEWAY_COMMAND: scriptPath,
    // The agent gets a minimal environment: pass on the name of the process it runs in.
    WECOM_GATEWAY_COMMAND_ENV: "FAULTS_PROCESS",
    LOG_LEVEL: "warn",
    ...options.env,
  };

  return {
    dir,
    kvPath,
    configPath,
    runsFile,
    app,
    api,
    env,
    start: (role = "all", name = "gateway", extra = {}, openFilesLimit) =>
      startGatewayProcess({
        openFilesLimit,
        env: { ...env, FAULTS_PROCESS: name.replaceAll(" ", "-"), ...extra },
        configPath,
        cwd: dir,
        role,
        name,
      }),
    callback: sealText,
    async post(gateway, sealed, timeoutMs = 10_000) {
      const url = typeof gateway === "string" ? gateway : gateway.callbackUrl;
      if (url === undefined) throw new Error("this gateway has no callback endpoint (worker role)");
      try {
        const response = await fetch(`${url}?${sealed.query}`, {
          method: "POST",
          body: sealed.body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.body?.cancel();
        return response.status;
      } catch {
        return 0;
      }
    },
    async agentRuns() {
      const text = await Deno.readTextFile(runsFile);
      const started: string[] = [];
      const finished: string[] = [];
      const byProcess = new Map<string, number>();
      for (const line of text.split("\n")) {
        const [what, id, process] = line.split(" ");
        if (what === "start" && id) {
          started.push(id);
          byProcess.set(process ?? "", (byProcess.get(process ?? "") ?? 0) + 1);
        }
        if (what === "end" && id) finished.push(id);
      }
      return { started, finished, byProcess };
    },
    async close() {
      await api.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** A short random tag that makes message contents unique across runs. */
export function tag(): string {
  return crypto.randomUUID().slice(0, 8);
}

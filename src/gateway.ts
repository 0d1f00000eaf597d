/**
 * One gateway process: the pieces of the message flow, started in order.
 *
 * config → KV → http (callback, health) → crypto → intake → jobs
 * runner → agent pool → WeCom API client → delivery; and the operator
 * listener (metrics, console) on its own address.
 *
 * Roles let one KV be shared by several processes: `edge` answers callbacks
 * only (it fits Deno Deploy), `worker` runs jobs and delivery only, `all`
 * (the default) does both.
 *
 * @example Usage
 * ```ts ignore
 * import { loadConfig } from "./config/load.ts";
 * import { startGateway } from "./gateway.ts";
 * const gateway = await startGateway(await loadConfig());
 * await gateway.finished;
 * ```
 *
 * @module
 */

import type { GatewayConfig } from "./config/types.ts";
import { defaultHttpConfig } from "./config/validate_http.ts";
import { createAgentPool } from "./agent/pool.ts";
import { platformHint } from "./agent/platform_hint.ts";
import { createMessagePreparer } from "./delivery/prepare.ts";
import { createInboundMedia } from "./media/inbound.ts";
import { storeReplyFiles } from "./attachments/store.ts";
import { resetHistory, runAgentForJob } from "./agent/run.ts";
import { agentFailureReason } from "./agent/failure_reason.ts";
import { type Delivery, deliveryConcurrency, startDelivery } from "./delivery/deliverer.ts";
import { addOutboxItems, planNotice, planRecall, planReply } from "./records/outbox.ts";
import { createCallbackHandler, prepareApps } from "./http/callback.ts";
import { createMetrics, type Metrics } from "./http/metrics.ts";
import { createRouter } from "./http/router.ts";
import { type OperatorServer, startOperatorServer } from "./operator/server.ts";
import { createVerificationLog } from "./operator/verifications.ts";
import { type CallbackServer, startCallbackServer } from "./http/server.ts";
import { type Commit, createGroupCommit } from "./store/group_commit.ts";
import { createIntake } from "./intake/record.ts";
import { type Runner, startRunner } from "./jobs/runner.ts";
import { countJobs } from "./records/job_store/mod.ts";
import { countDeadLetters } from "./records/outbox_queries.ts";
import { log } from "./log.ts";
import { createPriorityGate } from "./priority_gate.ts";
import { commit as commitAlone, openStore } from "./store/kv.ts";
import { isLocalKvFile, type KvLock, lockKvFile } from "./store/kv_lock.ts";
import { listenError } from "./http/listen_error.ts";
import { watchFileIdentity } from "./store/file_identity.ts";
import { createWeComClient, type GatewayWeComClient } from "./wecom/client.ts";

/** How long a gateway whose KV file was lost answers 503 with the reason before it stops, ms. */
const STORE_LOST_LINGER_MS = 1000;

/** What a process does. */
export type GatewayRole = "all" | "edge" | "worker";

/** Options of {@linkcode startGateway}. */
export interface GatewayOptions {
  role?: GatewayRole;
  /** An open KV store to use instead of opening `config.kvPath` (not closed by `stop()`). */
  kv?: Deno.Kv;
  /** Called once the HTTP server listens. */
  onListen?: (address: Deno.NetAddr) => void;
  /** `fetch` for WeCom API calls (tests). */
  fetch?: typeof fetch;
  /** Delivery tuning for tests (poll and back-off intervals, ms). */
  deliveryPollMs?: number;
  backoffBaseMs?: number;
  /** First back-off after 60020 (untrusted IP), ms (tests). */
  ipBackoffBaseMs?: number;
  /** Interval of the operator console's chart samples, ms (default 10 000; tests). */
  operatorSampleMs?: number;
}

/** A started gateway. */
export interface Gateway {
  /** The callback server's address (absent for the worker role). */
  address?: Deno.NetAddr;
  /** The operator listener's address (metrics, console); absent when it is off. */
  operatorAddress?: Deno.NetAddr;
  kv: Deno.Kv;
  metrics: Metrics;
  runner?: Runner;
  delivery?: Delivery;
  client?: GatewayWeComClient;
  /**
   * Stops gracefully: stops accepting callbacks, finishes in-flight
   * acknowledgements, stops the runner (releasing leases of running jobs so
   * another process or the next start takes them at once) and delivery.
   */
  stop(options?: { graceMs?: number }): Promise<void>;
  /** Resolves when the gateway has stopped. */
  finished: Promise<void>;
  /** Why the gateway stopped by itself (its KV file was deleted or replaced), if it did. */
  readonly failure?: string;
}

/** Starts a gateway process for `config`. */
export async function startGateway(
  config: GatewayConfig,
  options: GatewayOptions = {},
): Promise<Gateway> {
  const role = options.role ?? "all";
  const kv = options.kv ?? await openStore(config.kvPath);
  // One gateway serving callbacks per local KV file; workers may join it (src/store/kv_lock.ts).
  let lock: KvLock | undefined;
  try {
    if (!options.kv && role !== "worker" && isLocalKvFile(config.kvPath)) {
      lock = await lockKvFile(config.kvPath);
    }
  } catch (error) {
    kv.close();
    throw error;
  }
  const metrics = createMetrics();
  const verifications = createVerificationLog(kv);
  // One committer for intake, jobs and delivery: concurrent commits share one durable commit,
  // and the pipeline's wait while callbacks' are queued (acknowledgements first).
  // KV Connect allows 10 checks per atomic operation.
  const group = config.groupCommit
    ? createGroupCommit(kv, /^https?:\/\//.test(config.kvPath) ? { maxChecks: 10 } : {})
    : undefined;
  const commit: Commit = group ?? ((build) => commitAlone(() => build(kv.atomic())));
  const pipelineCommit: Commit = group?.background ?? commit;
  // The same rule on the JavaScript thread, when both run in this process: claim rounds and
  // delivery steps wait while a received callback is being answered (one per 20 ms without a pause).
  const gate = role === "all" ? createPriorityGate() : undefined;
  let runner: Runner | undefined;
  let delivery: Delivery | undefined;
  let client: GatewayWeComClient | undefined;
  let pool: ReturnType<typeof createAgentPool> | undefined;

  if (role !== "edge") {
    client = createWeComClient({
      kv,
      fetch: options.fetch,
      timeoutMs: config.delivery.requestTimeoutMs,
      onTokenFetch: () => metrics.count("wecom_token_fetches_total"),
    });
    delivery = startDelivery({
      kv,
      commit: pipelineCommit,
      yieldTo: gate?.idle,
      apps: config.apps,
      client: metrics.wrapClient(client),
      config: config.delivery,
      concurrency: deliveryConcurrency(config.jobs.concurrency),
      pollMs: options.deliveryPollMs,
      backoffBaseMs: options.backoffBaseMs,
      ipBackoffBaseMs: options.ipBackoffBaseMs,
      prepare: createMessagePreparer({
        kv,
        client,
        media: config.media,
        plainTextUsers: config.delivery.plainTextUsers,
        detectWeChat: config.delivery.detectWeChat,
      }),
    });
    const fetchMedia = createInboundMedia({ client, apps: config.apps, config: config.media });
    const hint = config.agent.platformHint === false
      ? undefined
      : platformHint({ markdown: config.delivery.markdown, uploadRoots: config.media.uploadRoots });
    const agentPool = createAgentPool(config.agent);
    pool = agentPool;
    const started = delivery;
    runner = startRunner({
      kv,
      commit: pipelineCommit,
      yieldTo: gate?.idle,
      // The intake below wakes the runner directly for each job (onJob).
      intakeInProcess: role === "all",
      runAgent: async (job, signal) => {
        const begun = performance.now();
        try {
          return await runAgentForJob(
            {
              kv,
              pool: agentPool,
              config: config.agent,
              fetchMedia,
              platformHint: hint,
              storeReplyData: (job, files) => storeReplyFiles(config.media.dir, job, files),
            },
            job,
            signal,
          );
        } catch (error) {
          metrics.count("wecom_agent_failures_total", { reason: agentFailureReason(error) });
          throw error;
        } finally {
          metrics.observeAgentRun((performance.now() - begun) / 1000);
        }
      },
      resetHistory,
      failureText: config.agent.failureText,
      plan: {
        reply: planReply,
        notice: planNotice,
        recall: planRecall,
        add: (op, items) => {
          queueMicrotask(() => started.wake());
          return addOutboxItems(op, items);
        },
      },
      config: config.jobs,
      markdown: config.delivery.markdown,
    });
  }

  let server: CallbackServer | undefined;
  let address: Deno.NetAddr | undefined;
  let failure: string | undefined;
  if (role !== "worker") {
    const apps = await prepareApps(config.apps);
    const wakeRunner = runner;
    const intake = createIntake({
      kv,
      commit,
      access: config.access,
      welcome: config.welcome,
      onJob: () => wakeRunner?.wake(),
    });
    const callback = createCallbackHandler({
      apps,
      replayWindowSeconds: config.replayWindowSeconds,
      urgent: gate?.urgent,
      intake: async (app, message, plaintext) => {
        const result = await intake(app, message, plaintext);
        if (result.outcome === "refused" || result.notified) delivery?.wake();
        return result;
      },
      observe: (observation) => {
        metrics.observeCallback(observation);
        verifications.observe(observation);
      },
    });
    // /metrics is served on the operator listener only.
    const handler = createRouter({
      path: config.path,
      apps,
      callback,
      onStrayVerification: verifications.observeStray,
      unavailable: () => failure,
    });
    try {
      server = await startCallbackServer({
        hostname: config.host,
        port: config.port,
        limits: config.http ?? defaultHttpConfig(),
        handler,
        onError: (error) => {
          log.error("HTTP handler failed", { error: (error as Error).message });
          return new Response("Internal error.\n", { status: 500 });
        },
        onEvent: (reason) => metrics.count("wecom_http_connections_closed_total", { reason }),
      });
    } catch (error) {
      // Undo what started before the server, so the caller can report one line and exit.
      try {
        await runner?.stop({ graceMs: 0 });
        await pool?.close();
        await delivery?.stop();
      } finally {
        if (!options.kv) kv.close();
        await lock?.release();
      }
      throw listenError(error, config.host, config.port);
    }
    address = server.addr;
    options.onListen?.(address);
  }

  metrics.setGauges(async () => {
    const deadLetters = await countDeadLetters(kv, 100_000);
    // Only the states whose sets stay small: finished jobs are kept a week, and listing them on
    // every scrape would read the whole week from KV (`jobs stats` counts them on demand).
    const jobs = await countJobs(kv, ["queued", "running", "dead"]);
    return {
      jobs,
      deadLetters,
      pool: pool?.stats(),
      commits: group?.stats(),
      gate: gate?.stats(),
    };
  });

  const done = Promise.withResolvers<void>();
  let stopping: Promise<void> | undefined;
  let operator: OperatorServer | undefined;
  const stop = (stopOptions: { graceMs?: number } = {}) => {
    stopping ??= (async () => {
      try {
        await operator?.shutdown();
        await server?.shutdown();
        await runner?.stop({ graceMs: stopOptions.graceMs ?? 10_000 });
        await pool?.close();
        await delivery?.stop();
      } finally {
        if (!options.kv) kv.close();
        await lock?.release();
        done.resolve();
      }
    })();
    return stopping;
  };

  // A KV file deleted or replaced under us: stop acknowledging (503), fail /health, stop.
  const fileWatch = options.kv ? undefined : await watchFileIdentity(config.kvPath, {
    intervalMs: config.kvCheckMs ?? 2000,
    onLost: (reason) => {
      failure = `${reason}; acknowledging nothing more, stopping so that a supervisor ` +
        "restarts the gateway on a real store";
      log.error(`KV store lost: ${failure}`);
      // Answer 503 (callbacks) and fail /health for a moment, so the reason is seen, then stop.
      setTimeout(() => stop(), STORE_LOST_LINGER_MS);
    },
  });
  done.promise.then(() => fileWatch?.stop());

  if (config.operator) {
    try {
      operator = await startOperatorServer({
        operator: config.operator,
        config,
        kv,
        metrics,
        verifications,
        role,
        publicAddress: address,
        sampleMs: options.operatorSampleMs,
      });
    } catch (error) {
      await stop();
      throw error;
    }
  }

  return {
    address,
    operatorAddress: operator?.address,
    kv,
    metrics,
    runner,
    delivery,
    client,
    stop,
    finished: done.promise,
    get failure() {
      return failure;
    },
  };
}

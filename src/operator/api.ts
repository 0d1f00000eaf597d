/**
 * The operator console's JSON endpoints (under `/api/` on the operator
 * listener). Reads go to the same KV records and functions as the `jobs`
 * command; actions (retry a dead letter, send a test message) go through the
 * same store functions and KV atomic commits as the CLI and delivery.
 *
 * | route                       | what                                                         |
 * | --------------------------- | ------------------------------------------------------------ |
 * | `GET /api/overview`         | per app: setup values, verification status, health          |
 * | `GET /api/work`             | jobs, outbox, dead letters (`?conversation=` for one)        |
 * | `GET /api/history`          | the last hour of samples for the charts                      |
 * | `GET /api/log`              | recent warnings and errors (redacted)                        |
 * | `GET /api/keys`             | a fresh Token and EncodingAESKey with the config lines       |
 * | `GET /api/agent`            | the agent backend's reachability                             |
 * | `GET /api/outbox/<id>`      | one outbox item (content-free), e.g. a test message          |
 * | `POST /api/retry`           | `{ids: [...]}` or `{all: true}`: `jobs retry`                |
 * | `POST /api/test-message`    | `{app, user}`: queues a short text to that member            |
 *
 * Never returned: the corp secret, access tokens, message content.
 *
 * @example Usage
 * ```ts ignore
 * const api = createOperatorApi({ config, kv, metrics, verifications, history, role: "all" });
 * const response = await api(new Request("http://127.0.0.1:8646/api/overview"), url);
 * ```
 *
 * @module
 */

import { checkAgentOnline } from "../agent/check.ts";
import { itemSummary, jobSummary } from "../records/summary.ts";
import type { AppConfig, GatewayConfig } from "../config/types.ts";
import { generateCallbackKeys } from "../crypto/generate.ts";
import {
  getOutboxItem,
  listDeadLetters,
  listOutbox,
  retryDeadLetter,
} from "../records/outbox_queries.ts";
import { addOutboxItems, planNotice } from "../records/outbox.ts";
import { decideSlot, listPacing } from "../delivery/pacing.ts";
import type { OutboxItem } from "../records/outbox_item.ts";
import type { Metrics } from "../http/metrics.ts";
import { readStoreStats } from "../records/stats.ts";
import { conversationJobs, listJobs } from "../records/job_store/mod.ts";
import { recentProblems } from "../log.ts";
import { commit } from "../store/kv.ts";
import { explainErrcode, NO_ERRCODE, quotedIp } from "../wecom/errors.ts";
import { readCachedToken } from "../wecom/token.ts";
import type { History } from "./history.ts";
import type { VerificationLog, VerificationRecord } from "./verifications.ts";

/** What {@linkcode createOperatorApi} needs. */
export interface OperatorApiDeps {
  config: GatewayConfig;
  kv: Deno.Kv;
  metrics: Metrics;
  verifications: VerificationLog;
  history: History;
  role: "all" | "edge" | "worker";
  /** The public callback listener's address (absent in the worker role). */
  publicAddress?: Deno.NetAddr;
  now?: () => number;
}

/** Text of the test message. */
export const TEST_MESSAGE_TEXT =
  "wecom-gateway: test message from the operator console. 这是一条测试消息。";

/** A refused action, answered with its status and message. */
export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

function json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
  });
}

/** The callback URL(s) of `app` as configured: host 0.0.0.0 cannot be known here. */
function callbackUrls(config: GatewayConfig, app: AppConfig, address?: Deno.NetAddr): string[] {
  const host = ["0.0.0.0", "::", ""].includes(config.host) ? "YOUR_PUBLIC_HOST" : config.host;
  const port = address?.port ?? config.port;
  const base = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const urls = [`${base}${config.path}/${app.name}`];
  return config.apps.length > 1 ? urls : [`${base}${config.path}`, ...urls];
}

/** Paths on which a verification GET reaches `app`. */
function pathsOf(config: GatewayConfig, app: AppConfig): string[] {
  return [config.path, `${config.path}/${app.name}`];
}

async function readJson(request: Request): Promise<Record<string, unknown>> {
  const text = await request.text();
  if (text.length > 64 * 1024) throw new ApiError(413, "The request body is too large.");
  try {
    const value = JSON.parse(text || "{}");
    if (value && typeof value === "object" && !Array.isArray(value)) return value;
  } catch {
    // below
  }
  throw new ApiError(400, "The request body must be a JSON object.");
}

/**
 * Pacing of one app: members who were sent to in the last hour, and those the
 * delivery holds now, with when it sends again (the delivery's own decision).
 */
async function pacingOf(kv: Deno.Kv, config: GatewayConfig, app: AppConfig, now: number) {
  const limits = { perMinute: config.delivery.perMinute, perHour: config.delivery.perHour };
  let members = 0;
  const atLimit: { user: string; until: number }[] = [];
  for (const entry of await listPacing(kv, app, 10_000)) {
    if (!entry.state.sent.some((at) => at > now - 3600_000)) continue;
    members++;
    const slot = decideSlot(entry.state.sent, now, limits);
    if (!slot.ok) atLimit.push({ user: entry.userId, until: slot.retryAt });
  }
  return { members, atLimit: atLimit.slice(0, 20), perMinute: config.delivery.perMinute };
}

/** The JSON for `GET /api/overview`. */
async function overview(deps: OperatorApiDeps, now: number) {
  const { config, kv } = deps;
  const stats = await readStoreStats(kv, config.apps, now);
  const verifications = await deps.verifications.list();
  const failures = deps.metrics.recentFailures().map((failure) => ({
    ...failure,
    meaning: failure.errcode === NO_ERRCODE ? "" : explainErrcode(failure.errcode),
  }));
  const apps = [];
  for (const app of config.apps) {
    const paths = pathsOf(config, app);
    const seen = verifications.filter((record) => paths.includes(record.path));
    const verification: VerificationRecord | undefined = seen.find((record) =>
      record.ok ? record.app === app.name : true
    );
    const delivery = stats.apps.find((status) => status.app === app.name);
    const paused = stats.gettokenPaused.find((failure) => failure.app === app.name);
    const token = await readCachedToken(kv, app);
    const untrusted = [
      ...(delivery && !delivery.ok && delivery.errcode === 60020 ? [delivery.message] : []),
      ...failures.filter((f) => f.app === app.name && f.errcode === 60020).map((f) => f.errmsg),
    ];
    const ip = untrusted.map(quotedIp).find((found) => found !== undefined);
    apps.push({
      name: app.name,
      corpId: app.corpId,
      agentId: app.agentId,
      // Shown because the operator must paste them into the admin console (this listener is
      // loopback or token-protected). The corp secret is never shown.
      token: app.token,
      encodingAesKey: app.encodingAesKey,
      callbackUrls: callbackUrls(config, app, deps.publicAddress),
      verification: verification ?? null,
      delivery: delivery ?? null,
      gettokenPaused: paused
        ? { errcode: paused.errcode, message: paused.message, until: paused.expiresAt }
        : null,
      accessToken: token ? { expiresAt: token.expiresAt, valid: token.expiresAt > now } : null,
      trustedIp: untrusted.length > 0 ? { ip: ip ?? null, meaning: explainErrcode(60020) } : null,
      pacing: await pacingOf(kv, config, app, now),
      failures: failures.filter((failure) => failure.app === app.name).slice(-10),
    });
  }
  return {
    now,
    role: deps.role,
    agent: config.agent.kind,
    callback: {
      host: config.host,
      port: deps.publicAddress?.port ?? config.port,
      path: config.path,
    },
    apps,
    stray: verifications.filter((record) => record.code === "path"),
    store: { jobs: stats.jobs, outbox: stats.outbox, deadLetters: stats.deadLetters },
  };
}

async function work(deps: OperatorApiDeps, url: URL) {
  const conversation = url.searchParams.get("conversation")?.trim();
  if (conversation) {
    const jobs = await conversationJobs(deps.kv, conversation);
    const outbox = (await listOutbox(deps.kv, { limit: 10_000, reverse: true }))
      .filter((item) => item.conversation === conversation).slice(0, 100);
    return {
      conversation,
      jobs: jobs.map((job) => jobSummary(job)),
      outbox: outbox.map(itemSummary),
    };
  }
  const [queued, running, dead] = await Promise.all([
    listJobs(deps.kv, { state: "queued", limit: 100 }),
    listJobs(deps.kv, { state: "running", limit: 100 }),
    listJobs(deps.kv, { state: "dead", limit: 100 }),
  ]);
  return {
    jobs: [...running, ...queued, ...dead].map((job) => jobSummary(job)),
    outbox: (await listOutbox(deps.kv, { state: "pending", limit: 100 })).map(itemSummary),
    deadLetters: (await listDeadLetters(deps.kv, { limit: 100 })).map(itemSummary),
  };
}

async function retry(deps: OperatorApiDeps, request: Request, now: number) {
  const body = await readJson(request);
  const ids = body.all === true
    ? (await listDeadLetters(deps.kv, { limit: 100_000 })).map((item) => item.id)
    : Array.isArray(body.ids) && body.ids.every((id) => typeof id === "string")
    ? body.ids as string[]
    : undefined;
  if (!ids || (ids.length === 0 && body.all !== true)) {
    throw new ApiError(400, 'Give {"ids": ["<dead letter id>", …]} or {"all": true}.');
  }
  const results = [];
  for (const id of ids) {
    try {
      const fresh = await retryDeadLetter(deps.kv, id, now);
      results.push({ id, ok: true, newId: fresh.id });
    } catch (error) {
      results.push({ id, ok: false, error: (error as Error).message });
    }
  }
  return { results };
}

async function testMessage(deps: OperatorApiDeps, request: Request, now: number) {
  const body = await readJson(request);
  const app = deps.config.apps.find((candidate) => candidate.name === body.app);
  if (!app) {
    throw new ApiError(
      400,
      `Cannot send a test message as there is no app '${String(body.app)}': use one of ` +
        `${deps.config.apps.map((candidate) => candidate.name).join(", ")}.`,
    );
  }
  const user = typeof body.user === "string" ? body.user.trim() : "";
  if (!/^[\w.@-]{1,64}$/.test(user)) {
    throw new ApiError(
      400,
      "Cannot send a test message as the member id must be 1 to 64 letters, digits, '.', '_', " +
        "'-' or '@' (the account id shown in the admin console's contacts, e.g. zhangsan).",
    );
  }
  const target = { conversation: `${app.corpId}:${user}`, app: app.name, userId: user, jobId: "" };
  const item: OutboxItem = planNotice(target, TEST_MESSAGE_TEXT, "notice", { now });
  await commit(() => addOutboxItems(deps.kv.atomic(), [item]));
  return { id: item.id, conversation: target.conversation };
}

/**
 * The agent backend's reachability for the health view: the same checks as
 * `check --online`, folded into one verdict with every finding's text.
 */
async function probeAgent(
  config: GatewayConfig,
): Promise<{ kind: string; ok: boolean; detail: string; ms: number }> {
  const begun = performance.now();
  const lines = await checkAgentOnline(config.agent, {
    timeoutMs: Math.min(config.delivery.requestTimeoutMs, 10_000),
    env: Deno.env.toObject(),
  });
  return {
    kind: config.agent.kind,
    ok: lines.every((line) => line.verdict !== "fail"),
    detail: lines.map((line) => line.text).join("; "),
    ms: Math.round(performance.now() - begun),
  };
}

/**
 * Creates the handler of `/api/…`; it answers undefined for other paths.
 *
 * @example Usage
 * ```ts ignore
 * const api = createOperatorApi(deps);
 * const response = await api(request, new URL(request.url)) ?? notFound();
 * ```
 */
export function createOperatorApi(
  deps: OperatorApiDeps,
): (request: Request, url: URL) => Promise<Response | undefined> {
  const now = deps.now ?? Date.now;
  return async (request, url) => {
    const route = `${request.method} ${url.pathname}`;
    try {
      switch (route) {
        case "GET /api/overview":
          return json(await overview(deps, now()));
        case "GET /api/work":
          return json(await work(deps, url));
        case "GET /api/history":
          return json({ sampleMs: deps.history.sampleMs, points: deps.history.points() });
        case "GET /api/log":
          return json({ lines: recentProblems().reverse() });
        case "GET /api/keys": {
          const generated = generateCallbackKeys();
          return json({
            ...generated,
            env: [
              `WECOM_CALLBACK_TOKEN=${generated.token}`,
              `WECOM_CALLBACK_ENCODING_AES_KEY=${generated.encodingAesKey}`,
            ],
            yaml: [
              "      - name: NEW_APP_NAME",
              "        corp_id: ww...",
              "        corp_secret: ...",
              "        agent_id: 1000002",
              `        token: ${generated.token}`,
              `        encoding_aes_key: ${generated.encodingAesKey}`,
            ],
          });
        }
        case "GET /api/agent":
          return json(await probeAgent(deps.config));
        case "POST /api/retry":
          return json(await retry(deps, request, now()));
        case "POST /api/test-message":
          return json(await testMessage(deps, request, now()));
      }
      const outbox = /^\/api\/outbox\/([\w-]{1,64})$/.exec(url.pathname);
      if (outbox && request.method === "GET") {
        const item = await getOutboxItem(deps.kv, outbox[1]);
        if (!item) throw new ApiError(404, `There is no outbox item '${outbox[1]}'.`);
        return json(itemSummary(item));
      }
      if (url.pathname.startsWith("/api/")) {
        throw new ApiError(404, `There is no operator API route ${route}.`);
      }
      return undefined;
    } catch (error) {
      if (error instanceof ApiError) return json({ error: error.message }, error.status);
      throw error;
    }
  };
}

/**
 * The ceilings for the load generator, as a subprocess of `bench/load.ts`:
 *
 * - `bare` (default): a bare `Deno.serve` that reads the request body and
 *   answers `200` with an empty body, nothing else;
 * - `bare-kv` (`BARE_KV` set to a KV file path): the same, but each request is
 *   answered only after the rows the gateway writes for a callback (dedupe
 *   marker with its check, job record, job indexes, wake-up; `enqueueJob` of
 *   `src/records/job_store/`) are committed to that KV file through the gateway's
 *   group commit. No signature, no decryption, no XML: the floor of any
 *   durable intake on this machine and this disk. `BARE_KV_ROWS` measures
 *   what fewer rows would bring: `all` (default, what the gateway writes),
 *   `no-state` (without the job-state index row) or `minimal` (without the
 *   state index and the conversation-queue row: dedupe marker, job record,
 *   ready hint, wake-up; not enough for the job store's ordering, a
 *   measurement only).
 *
 * `BARE_FRONT=1` serves through the gateway's bounded connection front
 * (`src/http/server.ts`) instead of `Deno.serve` alone: what the front costs.
 *
 * Listens on 127.0.0.1 and the port in `BARE_PORT` (default 0, any free port)
 * and prints `listening <port>` once it accepts connections. SIGTERM stops it
 * gracefully.
 *
 * Run: `deno run --allow-net --allow-env bench/lib/bare_server.ts`, or with
 * `BARE_KV=/tmp/kv.sqlite3` and `--unstable-kv --allow-read --allow-write`.
 *
 * @module
 */

import { createGroupCommit } from "../../src/store/group_commit.ts";
import { DEDUPE_TTL_MS } from "../../src/intake/dedupe.ts";
import { enqueueJob } from "../../src/records/job_store/mod.ts";
import type { JobRecord } from "../../src/records/job.ts";
import { newId } from "../../src/store/id.ts";
import { keys } from "../../src/store/keys.ts";
import { serveBounded } from "../../src/http/server.ts";
import { defaultHttpConfig } from "../../src/config/validate_http.ts";

const port = Number(Deno.env.get("BARE_PORT") ?? "0");
const kvPath = Deno.env.get("BARE_KV");
const kv = kvPath ? await Deno.openKv(kvPath) : undefined;
const group = kv ? createGroupCommit(kv) : undefined;
const ROWS = ["all", "no-state", "minimal"] as const;
const rows = Deno.env.get("BARE_KV_ROWS") || "all";
if (!(ROWS as readonly string[]).includes(rows)) {
  throw new RangeError(
    `Cannot start the bare server as BARE_KV_ROWS must be one of ${ROWS.join(", ")}: ` +
      `current value is '${rows}'`,
  );
}
let sequence = 0;

/** Commits what the gateway commits for one text callback of `bytes` bytes. */
async function record(body: Uint8Array): Promise<void> {
  if (!group) return;
  const at = Date.now();
  const n = sequence++;
  const userId = `user${n % 500}`;
  const job: JobRecord = {
    id: newId(at),
    conversation: `wwbare:${userId}`,
    app: "bare",
    corpId: "wwbare",
    agentId: "1000002",
    userId,
    // The body as the message text: a record of the same size as the gateway's.
    message: {
      type: "text",
      content: new TextDecoder().decode(body),
      msgId: String(4_000_000_000_000_000_000n + BigInt(n)),
      corpId: "wwbare",
      userId,
      createTime: Math.floor(at / 1000),
      agentId: "1000002",
    },
    receivedAt: at,
    state: "queued",
    attempts: 0,
    updatedAt: at,
  };
  const dedupe = keys.dedupe("wwbare", `m:${n}`);
  const result = await group((op) => {
    op.check({ key: dedupe, versionstamp: null })
      .set(dedupe, { expiresAt: at + DEDUPE_TTL_MS, jobId: job.id }, { expireIn: DEDUPE_TTL_MS });
    if (rows === "all") return enqueueJob(op, job, { by: "intake" });
    op.set(keys.job(job.id), job).set(keys.ready(job.id), job.conversation).set(
      keys.wake(),
      job.id,
    );
    return rows === "no-state"
      ? op.set(keys.conversationQueue(job.conversation, job.id), job.id)
      : op;
  });
  if (!result.ok) throw new Error("Cannot record the request as its dedupe check failed");
}

const handler = async (request: Request) => {
  // Read the body as the gateway must, so the ceiling includes receiving it.
  const body = await request.bytes();
  await record(body);
  return new Response(null, { status: 200 });
};
// BARE_FRONT=1: behind the gateway's bounded connection front (src/http/server.ts), to measure it.
const server = Deno.env.get("BARE_FRONT") === "1"
  ? await serveBounded({ hostname: "127.0.0.1", port, ...defaultHttpConfig(), handler })
  : Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, handler);
console.log(`listening ${server.addr.port}`);
const stopped = Promise.withResolvers<void>();
Deno.addSignalListener("SIGTERM", () => server.shutdown().then(() => stopped.resolve()));
await stopped.promise;
kv?.close();

import assert from "node:assert/strict";
import { isConversationSettled } from "../../src/records/conversation.ts";
import { claimNext, completeJob, hasOpenJobs } from "../../src/records/job_store/mod.ts";
import { addOutboxItems, planNotice } from "../../src/records/outbox.ts";
import { hasPendingOutbox } from "../../src/records/outbox_queries.ts";
import { keys } from "../../src/store/keys.ts";
import { enqueue, textJob } from "../jobs/job_fixtures.ts";

const CONVERSATION = "ww1:zhangsan";
const OTHER = "ww1:lisi";

Deno.test("a conversation is settled only once its jobs ended and its replies left the outbox", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    assert.equal(await isConversationSettled(kv, CONVERSATION), true);

    const job = await enqueue(kv, textJob(CONVERSATION, "hi"));
    assert.equal(await hasOpenJobs(kv, CONVERSATION), true);
    assert.equal(await isConversationSettled(kv, CONVERSATION), false);
    // Another member's conversation is not held up by this job.
    assert.equal(await isConversationSettled(kv, OTHER), true);

    const claimed = await claimNext(kv, "runner-1", Date.now(), 60_000);
    assert.equal(claimed?.id, job.id);
    assert.equal(await isConversationSettled(kv, CONVERSATION), false, "a running job");

    // The job ends in the same commit that queues its reply, as the runner does.
    const target = {
      conversation: CONVERSATION,
      app: "default",
      userId: "zhangsan",
      jobId: job.id,
    };
    const reply = planNotice(target, "hello", "reply");
    assert.ok(
      await completeJob(kv, claimed!, "runner-1", {
        state: "done",
        now: Date.now(),
        extra: (op) => addOutboxItems(op, [reply]),
      }),
    );
    assert.equal(await hasOpenJobs(kv, CONVERSATION), false);
    assert.equal(await hasPendingOutbox(kv, CONVERSATION), true);
    assert.equal(await isConversationSettled(kv, CONVERSATION), false, "a reply still pending");

    // Delivery sends it: the item is stored as sent and leaves the conversation queue.
    await kv.atomic().set(keys.outbox(reply.id), { ...reply, state: "sent" })
      .delete(keys.outboxQueue(CONVERSATION, reply.id)).commit();
    assert.equal(await isConversationSettled(kv, CONVERSATION), true);
  } finally {
    kv.close();
  }
});

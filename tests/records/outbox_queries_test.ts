import assert from "node:assert/strict";
import {
  listDeadLetters,
  listOutbox,
  purgeDeadLetters,
  retryDeadLetter,
} from "../../src/records/outbox_queries.ts";
import { startDelivery } from "../../src/delivery/deliverer.ts";
import { addOutboxItems, planNotice } from "../../src/records/outbox.ts";
import type { OutboxItem } from "../../src/records/outbox_item.ts";
import { keys } from "../../src/store/keys.ts";
import {
  APP,
  createClock,
  createFakeWeCom,
  DELIVERY,
  wecomError,
} from "../delivery/fake_client.ts";

function items(now: number, userId: string, texts: string[]): OutboxItem[] {
  const target = { conversation: `${APP.corpId}:${userId}`, app: APP.name, userId, jobId: "j" };
  return texts.map((text) => planNotice(target, text, "reply", { now }));
}

async function withDelivery(
  run: (
    ctx: {
      kv: Deno.Kv;
      fake: ReturnType<typeof createFakeWeCom>;
      delivery: ReturnType<typeof startDelivery>;
      now: () => number;
    },
  ) => Promise<void>,
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  const clock = createClock();
  const fake = createFakeWeCom(clock.now);
  const delivery = startDelivery({
    kv,
    apps: [APP],
    client: fake.client,
    config: DELIVERY,
    now: clock.now,
    log: () => {},
    pollMs: 20,
  });
  try {
    await run({ kv, fake, delivery, now: clock.now });
  } finally {
    await delivery.stop();
    kv.close();
  }
}

Deno.test("a dead letter is listed with its error and, retried, is delivered after the queue", async () => {
  await withDelivery(async ({ kv, fake, delivery, now }) => {
    fake.sendBehaviours.push(wecomError(60011));
    const [first, second] = items(now(), "zhangsan", ["first", "second"]);
    await addOutboxItems(kv.atomic(), [first, second]).commit();
    await delivery.idle();
    assert.deepEqual(fake.textsOf("zhangsan"), ["second"]);

    const dead = await listDeadLetters(kv, { limit: 10 });
    assert.equal(dead.length, 1);
    assert.equal(dead[0].id, first.id);
    assert.match(dead[0].lastError ?? "", /errcode 60011/);

    // The operator fixed the visible range; a later message is queued meanwhile.
    const [third] = items(now(), "zhangsan", ["third"]);
    await addOutboxItems(kv.atomic(), [third]).commit();
    const retried = await retryDeadLetter(kv, first.id, now());
    assert.ok(retried.id > third.id, "re-queued at the end of the conversation");
    assert.equal(retried.attempts, 0);
    assert.equal(retried.state, "pending");
    assert.equal(retried.lastError, undefined);
    await delivery.idle();
    assert.deepEqual(fake.textsOf("zhangsan"), ["second", "third", "first"]);
    assert.deepEqual(await listDeadLetters(kv), []);
    assert.equal((await kv.get(keys.outbox(first.id))).value, null, "the old item is gone");
    assert.equal((await kv.get<OutboxItem>(keys.outbox(retried.id))).value?.state, "sent");
  });
});

Deno.test("retryDeadLetter refuses an id that is not a dead letter", async () => {
  await withDelivery(async ({ kv, delivery, now }) => {
    const [sent] = items(now(), "lisi", ["fine"]);
    await addOutboxItems(kv.atomic(), [sent]).commit();
    await delivery.idle();
    await assert.rejects(() => retryDeadLetter(kv, sent.id), /no dead letter with that id/);
    await assert.rejects(() => retryDeadLetter(kv, "nope"), /Cannot retry dead letter 'nope'/);
  });
});

Deno.test("purgeDeadLetters deletes dead letters, optionally only older ones", async () => {
  await withDelivery(async ({ kv, fake, delivery, now }) => {
    fake.sendBehaviours.push(wecomError(81013), wecomError(81013));
    const old = items(now() - 86_400_000, "wangwu", ["old"]);
    const recent = items(now(), "wangwu", ["recent"]);
    await addOutboxItems(kv.atomic(), [...old, ...recent]).commit();
    await delivery.idle();
    assert.equal((await listDeadLetters(kv)).length, 2);

    assert.equal(await purgeDeadLetters(kv, { olderThan: now() - 3_600_000 }), 1);
    assert.deepEqual((await listDeadLetters(kv)).map((item) => item.id), [recent[0].id]);
    assert.equal((await kv.get(keys.outbox(old[0].id))).value, null);
    assert.equal(await purgeDeadLetters(kv), 1);
    assert.deepEqual(await listDeadLetters(kv), []);
  });
});

Deno.test("listOutbox shows items by state for status", async () => {
  await withDelivery(async ({ kv, fake, delivery, now }) => {
    fake.sendBehaviours.push(wecomError(81013));
    const list = items(now(), "zhaoliu", ["dead one", "sent one"]);
    const held = planNotice(
      { conversation: "wwcorp:other", app: APP.name, userId: "other", jobId: "" },
      "later",
      "working",
      { now: now(), notBefore: now() + 60_000 },
    );
    await addOutboxItems(kv.atomic(), [...list, held]).commit();
    await delivery.idle();
    assert.deepEqual((await listOutbox(kv, { state: "dead" })).map((i) => i.id), [list[0].id]);
    assert.deepEqual((await listOutbox(kv, { state: "sent" })).map((i) => i.id), [list[1].id]);
    assert.deepEqual((await listOutbox(kv, { state: "pending" })).map((i) => i.id), [held.id]);
    assert.equal((await listOutbox(kv, { limit: 2 })).length, 2);
    assert.equal((await listOutbox(kv, { reverse: true, limit: 1 }))[0].id, held.id);
  });
});

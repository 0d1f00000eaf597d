import assert from "node:assert/strict";
import type { WelcomeConfig } from "../../src/config/types.ts";
import type { OutboxItem } from "../../src/records/outbox_item.ts";
import { isWelcomeEvent } from "../../src/intake/events.ts";
import { addClientKind, clientKindOf } from "../../src/records/client_kind.ts";
import type { InboundMessage } from "../../src/records/message.ts";
import { createIntake } from "../../src/intake/record.ts";
import { setLogSink } from "../../src/log.ts";
import { keys } from "../../src/store/keys.ts";
import { fakeAppConfig } from "../../src/simulator/wecom_api.ts";

const app = fakeAppConfig("http://127.0.0.1:9");
const base = { corpId: app.corpId, userId: "lisi", agentId: app.agentId };
const event = (name: string, createTime: number): InboundMessage => ({
  ...base,
  createTime,
  type: "event",
  event: name,
  eventKey: "",
  fields: {},
});
/** The intake's log lines, kept out of the test output. */
const logged: string[] = [];
setLogSink({ format: "human", level: "info", write: (line) => logged.push(line) });

const welcome: WelcomeConfig = { text: "欢迎!", periodSeconds: 60, onEnter: true };

async function outbox(kv: Deno.Kv): Promise<OutboxItem[]> {
  const items: OutboxItem[] = [];
  for await (const entry of kv.list<OutboxItem>({ prefix: keys.outboxPrefix() })) {
    items.push(entry.value);
  }
  return items;
}

function intakeWith(kv: Deno.Kv, clock: { t: number }, config = welcome) {
  const intake = createIntake({
    kv,
    access: { allowAll: true, allowedUsers: [], refusalNoticeSeconds: 0, refusalNoticeText: "x" },
    welcome: config,
    now: () => clock.t,
    groupCommit: false,
  });
  return (message: InboundMessage) => intake(app, message, JSON.stringify(message));
}

Deno.test("welcome: once per member per period, queued with the event's commit, no job", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const clock = { t: 1_700_000_000_000 };
    const intake = intakeWith(kv, clock);
    const first = await intake(event("enter_agent", 1));
    assert.deepEqual(first, {
      outcome: "ignored",
      conversation: `${app.corpId}:lisi`,
      notified: true,
    });
    assert.equal((await intake(event("enter_agent", 1))).outcome, "duplicate"); // WeCom's retry
    clock.t += 30_000;
    assert.equal((await intake(event("enter_agent", 2))).notified, undefined);
    assert.equal((await intake(event("subscribe", 3))).notified, undefined);
    let items = await outbox(kv);
    assert.equal(items.length, 1);
    assert.deepEqual(items[0].message, { msgtype: "text", content: "欢迎!" });
    assert.equal(items[0].userId, "lisi");
    assert.equal(items[0].purpose, "notice");
    clock.t += 31_000; // the period is over
    assert.equal((await intake(event("enter_agent", 4))).notified, true);
    items = await outbox(kv);
    assert.equal(items.length, 2);
    for await (const _ of kv.list({ prefix: keys.jobPrefix() })) assert.fail("no job");
    assert.equal(
      logged.filter((line) => /welcome queued .*event=enter_agent/.test(line)).length,
      2,
    );
  } finally {
    kv.close();
  }
});

Deno.test("welcome: concurrent events of one member queue one welcome", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const intake = intakeWith(kv, { t: 1_700_000_000_000 });
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => intake(event("enter_agent", 100 + i))),
    );
    assert.equal(results.filter((r) => r.notified).length, 1);
    assert.equal((await outbox(kv)).length, 1);
  } finally {
    kv.close();
  }
});

Deno.test("no welcome without text; enter_agent only with welcome_on_enter", () => {
  assert.equal(isWelcomeEvent(event("subscribe", 1), { ...welcome, text: " " }), false);
  assert.equal(isWelcomeEvent(event("enter_agent", 1), { ...welcome, onEnter: false }), false);
  assert.equal(isWelcomeEvent(event("subscribe", 1), { ...welcome, onEnter: false }), true);
  assert.equal(isWelcomeEvent(event("unsubscribe", 1), welcome), false);
  assert.equal(isWelcomeEvent(event("click", 1), welcome), false);
});

Deno.test("the client is told by AppType on location messages and LOCATION events", async () => {
  const location = {
    ...base,
    createTime: 1,
    msgId: "9",
    type: "location" as const,
    latitude: 1,
    longitude: 2,
    scale: 15,
    label: "",
  };
  assert.equal(clientKindOf(location), "wechat");
  assert.equal(clientKindOf({ ...location, appType: "wxwork" }), "wxwork");
  const located = { ...event("LOCATION", 1), fields: { Latitude: "1", AppType: "wxwork" } };
  assert.equal(clientKindOf(located), "wxwork");
  assert.equal(clientKindOf(event("LOCATION", 1)), "wechat");
  assert.equal(clientKindOf(event("enter_agent", 1)), null);
  const kv = await Deno.openKv(":memory:");
  try {
    await addClientKind(kv.atomic(), location, 5_000).commit();
    const stored = await kv.get<{ client: string; expiresAt: number }>(
      keys.clientKind(app.corpId, "lisi"),
    );
    assert.equal(stored.value?.client, "wechat");
    assert.equal(stored.value?.expiresAt, 5_000 + 30 * 24 * 3_600_000);
  } finally {
    kv.close();
  }
});

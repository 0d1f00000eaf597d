// `jobs dead` tells why each dead letter died, for dead letters made by the real delivery loop.
import assert from "node:assert/strict";
import { startDelivery } from "../../src/delivery/deliverer.ts";
import { listOutbox } from "../../src/records/outbox_queries.ts";
import { addOutboxItems, planNotice } from "../../src/records/outbox.ts";
import {
  APP,
  createClock,
  createFakeWeCom,
  DELIVERY,
  httpError,
  wecomError,
} from "../delivery/fake_client.ts";
import { jobsCli } from "./jobs_fixtures.ts";
import { workdir } from "./run_cli.ts";

const SECRET_TEXT = "words the operator must not see";

Deno.test("jobs dead shows, per dead letter, why: refused for good (81013, 40003, 86xxx) or the retry window ran out", async () => {
  const dir = await workdir();
  const path = `${dir}/kv.sqlite3`;
  const clock = createClock(Date.now() - 3_600_000);
  const fake = createFakeWeCom(clock.now);
  const kv = await Deno.openKv(path);
  const delivery = startDelivery({
    kv,
    apps: [APP],
    client: fake.client,
    config: { ...DELIVERY, retryWindowMs: 10 * 60_000, retryMaxBackoffMs: 60_000 },
    now: clock.now,
    log: () => {},
    pollMs: 20,
    random: () => 1,
  });
  try {
    const send = fake.client.send;
    const failing = new Map<string, () => Error>([
      ["amy", () => wecomError(81013)],
      ["ben", () => wecomError(40003)],
      ["cal", () => wecomError(86001)],
      ["dan", () => httpError(500)], // for the whole window
    ]);
    fake.client.send = (app, userId, message, options) => {
      const error = failing.get(userId);
      return error ? Promise.reject(error()) : send(app, userId, message, options);
    };
    const items = [...failing.keys()].map((user) =>
      planNotice(
        { conversation: `${APP.corpId}:${user}`, app: APP.name, userId: user, jobId: "" },
        `${SECRET_TEXT} (${user})`,
        "reply",
        { now: clock.now() },
      )
    );
    assert.ok((await addOutboxItems(kv.atomic(), items).commit()).ok);
    for (let round = 0; round < 100; round++) {
      await delivery.idle();
      if ((await listOutbox(kv, { state: "pending" })).length === 0) break;
      clock.advance(30_000);
      delivery.wake();
    }
    assert.equal((await listOutbox(kv, { state: "dead" })).length, 4);
  } finally {
    await delivery.stop();
    kv.close();
  }

  try {
    const env = { WECOM_GATEWAY_KV: path };
    const dead = await jobsCli(["dead"], env, dir);
    assert.equal(dead.code, 0, dead.stderr);
    const text = dead.stdout;
    assert.ok(!text.includes(SECRET_TEXT), "message content reached the output");
    assert.match(
      text,
      /^id +conversation +app +purpose +attempts +age +first try +last try +why$/m,
    );
    assert.match(text, /:amy +default +reply +1 +\S+ +1h +1h +refused for good: errcode 81013$/m);
    assert.match(text, /:ben +default +reply +1 .* refused for good: errcode 40003$/m);
    assert.match(text, /:cal +default +reply +1 .* refused for good: errcode 86001$/m);
    assert.match(
      text,
      /:dan +default +reply +(\d+) +\S+ +1h +\d+m +retry window \(10 min\) ran out: HTTP 500$/m,
    );
    const attempts = Number(/:dan +default +reply +(\d+)/.exec(text)![1]);
    assert.ok(attempts > 8, `${attempts} attempts in the window`);
    // What each errcode means, once.
    assert.match(text, /What WeCom said:\n/);
    assert.match(text, /^ {2}errcode 81013: No valid recipient/m);
    assert.match(text, /^ {2}errcode 40003: WeCom does not know this user id/m);
    assert.match(text, /^ {2}errcode 86001: WeCom answered errcode 86001\. Look it up/m);
    assert.match(text, /^ {2}HTTP 500: WeCom message\/send answered HTTP 500/m);

    const json = await jobsCli(["dead", "--json"], env, dir);
    assert.equal(json.code, 0);
    const listed = JSON.parse(json.stdout) as {
      userId: string;
      deadReason: { cause: string; errcode?: number; attempts: number; firstAttemptAt: string };
    }[];
    const dan = listed.find((item) => item.userId === "dan")!;
    assert.equal(dan.deadReason.cause, "window");
    assert.equal(dan.deadReason.attempts, attempts);
    assert.match(dan.deadReason.firstAttemptAt, /^\d{4}-\d\d-\d\dT/);
    assert.equal(listed.find((item) => item.userId === "amy")!.deadReason.errcode, 81013);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// Delivery of media items against the simulated WeCom API: upload when due,
// the media id kept, a resend after a lost answer delivered once.
import assert from "node:assert/strict";
import { startDelivery } from "../../src/delivery/deliverer.ts";
import { addOutboxItems, planReply } from "../../src/records/outbox.ts";
import { createMessagePreparer } from "../../src/delivery/prepare.ts";
import type { MediaMessage, OutboxItem } from "../../src/records/outbox_item.ts";
import { keys } from "../../src/store/keys.ts";
import { createWeComClient } from "../../src/wecom/client.ts";
import { fakeAppConfig, startFakeWeComApi } from "../../src/simulator/wecom_api.ts";
import { png } from "../../src/simulator/media_samples.ts";
import { waitFor } from "../lib/wait.ts";

const DELIVERY = { markdown: false, maxAttempts: 5, perMinute: 30, perHour: 1000 };

Deno.test("a media item whose send answer was lost is resent with the same media id, delivered once", async () => {
  const api = startFakeWeComApi();
  const kv = await Deno.openKv(":memory:");
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "media-delivery-" }));
  const app = fakeAppConfig(api.url);
  const client = createWeComClient({ kv, timeoutMs: 300, log: () => {} });
  const delivery = startDelivery({
    kv,
    apps: [app],
    client,
    config: { ...DELIVERY, requestTimeoutMs: 300 },
    pollMs: 20,
    backoffBaseMs: 800, // the resend comes after the lost send has landed
    random: () => 1,
    log: () => {},
    prepare: createMessagePreparer({
      kv,
      client,
      media: { dir, uploadRoots: [dir] },
      log: () => {},
    }),
  });
  try {
    await Deno.writeFile(`${dir}/chart.png`, png(3000));
    // The first send is handled by WeCom but its answer comes after the client gave up.
    api.inject("send", [{ delayMs: 600 }]);
    const job = { id: "j1", conversation: `${app.corpId}:lisi`, app: app.name, userId: "lisi" };
    const items = planReply(job, { text: "", attachments: [{ path: `${dir}/chart.png` }] }, {
      markdown: false,
    });
    await addOutboxItems(kv.atomic(), items).commit();
    delivery.wake();
    await waitFor(async () => {
      const stored = await kv.get<OutboxItem>(keys.outbox(items[0].id));
      return stored.value?.state === "sent";
    }, "the image sent");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const delivered = api.delivered("lisi");
    assert.deepEqual(delivered.map((m) => m.msgtype), ["image"]);
    assert.equal(api.state.duplicatesSuppressed.length, 1, "the resend was WeCom's duplicate");
    assert.equal(api.uploads().length, 1, "uploaded once");
    const stored = (await kv.get<OutboxItem>(keys.outbox(items[0].id))).value!;
    const media = stored.message as MediaMessage;
    assert.equal(media.uploaded?.mediaId, delivered[0].payload.media_id);
    assert.equal(media.path, `${dir}/chart.png`);
    assert.ok(stored.attempts >= 1);
  } finally {
    await delivery.stop();
    kv.close();
    await api.close();
    await Deno.remove(dir, { recursive: true });
  }
});

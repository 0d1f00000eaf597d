import assert from "node:assert/strict";
import { isLocalKvFile, watchFileIdentity } from "../../src/store/file_identity.ts";

async function watched(lose: (path: string, dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "wecom-identity-" });
  const path = `${dir}/kv.sqlite3`;
  await Deno.writeTextFile(path, "store");
  const reasons: string[] = [];
  const watch = await watchFileIdentity(path, {
    intervalMs: 20,
    onLost: (reason) => reasons.push(reason),
  });
  assert.ok(watch, "a local file is watched");
  try {
    // Positive control: an untouched (even rewritten in place) file is not lost.
    await Deno.writeTextFile(path, "store, written in place");
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(reasons.length, 0, "an unchanged file is not reported");
    await lose(path, dir);
    for (let i = 0; i < 100 && reasons.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(reasons.length, 1, "reported once");
    assert.equal(watch.lost, reasons[0]);
    return reasons[0];
  } finally {
    watch.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a deleted KV file is reported once, naming the file", async () => {
  const reason = await watched((path) => Deno.remove(path));
  assert.match(reason, /kv\.sqlite3 was deleted/);
});

Deno.test("a KV file replaced by another (a rename over it) is reported once", async () => {
  const reason = await watched(async (path, dir) => {
    await Deno.writeTextFile(`${dir}/other`, "another store");
    await Deno.rename(`${dir}/other`, path);
  });
  assert.match(reason, /was replaced by another file/);
});

Deno.test("no watch for :memory:, KV Connect URLs, a missing file, or an interval of 0", async () => {
  const onLost = () => {};
  assert.equal(await watchFileIdentity(":memory:", { intervalMs: 10, onLost }), undefined);
  assert.equal(
    await watchFileIdentity("https://api.deno.com/databases/x/connect", { intervalMs: 10, onLost }),
    undefined,
  );
  assert.equal(
    await watchFileIdentity("/nonexistent/kv.sqlite3", { intervalMs: 10, onLost }),
    undefined,
  );
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/kv`, "");
  assert.equal(await watchFileIdentity(`${dir}/kv`, { intervalMs: 0, onLost }), undefined);
  await Deno.remove(dir, { recursive: true });
  assert.equal(isLocalKvFile("./data/kv.sqlite3"), true);
  assert.equal(isLocalKvFile("http://localhost:4512"), false);
});

import assert from "node:assert/strict";
import {
  conversationRoots,
  inboundPath,
  pruneStore,
  resolveAllowed,
  safeSegment,
  saveFile,
  storeReplyFiles,
} from "../../src/attachments/store.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "media-store-" }));
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("paths in the store cannot be steered out of it by ids", () => {
  assert.equal(safeSegment("../../etc"), "_.._.._etc");
  assert.equal(safeSegment(".."), "_..");
  assert.equal(safeSegment(""), "_");
  assert.equal(safeSegment("zhang.san@corp-1"), "zhang.san@corp-1");
  assert.equal(
    inboundPath("/d", "ww1", "../x", "9", "jpg"),
    "/d/inbound/ww1/_.._x/9.jpg",
  );
});

Deno.test("saveFile writes whole files and leaves no temporary file behind", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/a/b/c.bin`;
    await saveFile(path, new Uint8Array([1, 2, 3]));
    assert.deepEqual(await Deno.readFile(path), new Uint8Array([1, 2, 3]));
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(`${dir}/a/b`))).map((e) => e.name),
      ["c.bin"],
    );
  });
});

Deno.test("resolveAllowed: inside a root yes; outside, via .. or a symlink no; missing is told apart", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/out/sub`, { recursive: true });
    await Deno.writeTextFile(`${dir}/out/sub/ok.txt`, "fine");
    await Deno.writeTextFile(`${dir}/secret.txt`, "no");
    await Deno.symlink(`${dir}/secret.txt`, `${dir}/out/link.txt`);
    await Deno.symlink(`${dir}/out/sub/ok.txt`, `${dir}/elsewhere.txt`);
    const roots = [`${dir}/out`, `${dir}/does-not-exist`];
    assert.deepEqual(await resolveAllowed(`${dir}/out/sub/ok.txt`, roots), {
      ok: true,
      path: `${dir}/out/sub/ok.txt`,
    });
    assert.deepEqual(await resolveAllowed(`${dir}/out/../secret.txt`, roots), {
      ok: false,
      reason: "outside",
    });
    assert.deepEqual(await resolveAllowed(`${dir}/out/link.txt`, roots), {
      ok: false,
      reason: "outside",
    });
    // A link from outside to a file inside resolves to the file inside.
    assert.equal((await resolveAllowed(`${dir}/elsewhere.txt`, roots)).ok, true);
    assert.deepEqual(await resolveAllowed(`${dir}/out/nope.txt`, roots), {
      ok: false,
      reason: "missing",
    });
    assert.deepEqual(await resolveAllowed(`${dir}/nope.txt`, roots), {
      ok: false,
      reason: "outside",
    });
    assert.deepEqual(await resolveAllowed(`${dir}/out/sub`, roots), {
      ok: false,
      reason: "not_file",
    });
    // A sibling folder whose name starts like the root is not inside it.
    await Deno.mkdir(`${dir}/out2`);
    await Deno.writeTextFile(`${dir}/out2/x.txt`, "x");
    assert.equal((await resolveAllowed(`${dir}/out2/x.txt`, roots)).ok, false);
  });
});

Deno.test("conversation roots hold only that member's files", async () => {
  await withDir(async (dir) => {
    const mine = inboundPath(dir, "ww1", "lisi", "1", "jpg");
    await saveFile(mine, new Uint8Array(10));
    assert.equal((await resolveAllowed(mine, conversationRoots(dir, "ww1", "lisi"))).ok, true);
    assert.equal((await resolveAllowed(mine, conversationRoots(dir, "ww1", "wangwu"))).ok, false);
    assert.equal((await resolveAllowed(mine, conversationRoots(dir, "ww2", "lisi"))).ok, false);
  });
});

Deno.test("pruneStore deletes old files and empty folders, keeps new ones", async () => {
  await withDir(async (dir) => {
    await saveFile(`${dir}/inbound/ww1/a/old.jpg`, new Uint8Array(10));
    await saveFile(`${dir}/inbound/ww1/b/new.jpg`, new Uint8Array(10));
    const old = new Date(Date.now() - 10 * 3_600_000);
    await Deno.utime(`${dir}/inbound/ww1/a/old.jpg`, old, old);
    assert.equal(await pruneStore(dir, Date.now() - 3_600_000), 1);
    assert.equal(await Deno.stat(`${dir}/inbound/ww1/a`).then(() => true, () => false), false);
    assert.equal((await Deno.stat(`${dir}/inbound/ww1/b/new.jpg`)).isFile, true);
    assert.equal(await pruneStore(`${dir}/missing`, Date.now()), 0);
  });
});

Deno.test("storeReplyFiles writes data attachments into the conversation's outbound folder", async () => {
  await withDir(async (dir) => {
    const job = { id: "j1", corpId: "ww1", userId: "lisi" };
    const files = await storeReplyFiles(dir, job, [
      { path: "/elsewhere/kept.png" },
      { path: "../../evil/chart.png", data: new Uint8Array([1, 2, 3, 4, 5, 6]), kind: "image" },
      { path: "chart.png", data: new Uint8Array([7, 8, 9, 10, 11, 12]) },
    ]);
    const folder = `${dir}/outbound/ww1/lisi/j1`;
    assert.deepEqual(files, [
      { path: "/elsewhere/kept.png" },
      { path: `${folder}/chart.png`, kind: "image" },
      { path: `${folder}/2-chart.png` },
    ]);
    assert.deepEqual(
      await Deno.readFile(`${folder}/2-chart.png`),
      new Uint8Array([7, 8, 9, 10, 11, 12]),
    );
    assert.equal(
      (await resolveAllowed(files[1].path, conversationRoots(dir, "ww1", "lisi"))).ok,
      true,
    );
  });
});

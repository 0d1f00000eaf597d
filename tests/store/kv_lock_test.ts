import assert from "node:assert/strict";
import { KvFileInUseError, lockKvFile, processRuns } from "../../src/store/kv_lock.ts";

Deno.test("kv lock: held once; a second taker is refused with the owner's pid; free again after release", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/kv.sqlite3`;
    const lock = await lockKvFile(path);
    assert.equal((await Deno.readTextFile(`${path}.lock`)).trim(), String(Deno.pid));
    await assert.rejects(lockKvFile(path), (error) => {
      assert.ok(error instanceof KvFileInUseError);
      assert.equal(error.pid, Deno.pid);
      assert.equal(error.path, path);
      return true;
    });
    await lock.release();
    const again = await lockKvFile(path);
    await again.release();
    await assert.rejects(Deno.stat(`${path}.lock`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kv lock: a lock left by a process that no longer runs is taken over", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A process that has exited: its pid is free (until the system reuses it).
    const child = new Deno.Command(Deno.execPath(), { args: ["eval", ""], stdout: "null" }).spawn();
    await child.status;
    assert.ok(!processRuns(child.pid), "the child has exited");
    assert.ok(processRuns(Deno.pid), "this process runs (positive control)");
    const path = `${dir}/kv.sqlite3`;
    await Deno.writeTextFile(`${path}.lock`, `${child.pid}\n`);
    const lock = await lockKvFile(path);
    assert.equal((await Deno.readTextFile(`${path}.lock`)).trim(), String(Deno.pid));
    await lock.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

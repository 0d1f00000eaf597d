/**
 * Compile readiness: `deno task compile` cannot build a binary here (it
 * downloads Deno's runtime), but with DENORT_BIN pointing at this Deno the same
 * command type-checks the program and lists what it embeds. This test runs the
 * compile task's exact arguments that way and checks that the agent's worker
 * module (loaded by URL at run time) is embedded.
 */

import assert from "node:assert/strict";

Deno.test("the compile task's arguments type-check and embed the agent worker module", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const task: string = config.tasks.compile;
  assert.ok(task.startsWith("deno compile "), task);
  const args = task.slice("deno ".length).split(/\s+/);
  const dir = await Deno.makeTempDir();
  try {
    const output = args.indexOf("--output");
    assert.ok(output > 0, "the compile task names --output");
    args[output + 1] = `${dir}/wecom-gateway`;
    assert.ok(args.includes("--unstable-kv"), "KV must be enabled in the binary");
    const result = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: new URL("../..", import.meta.url).pathname,
      env: { DENORT_BIN: Deno.execPath(), NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
    assert.equal(result.code, 0, text);
    assert.ok(
      /worker\.ts/.test(text),
      `worker.ts is not listed among the embedded files:\n${text}`,
    );
    assert.ok(/backends/.test(text), "the agent backends are embedded");
    // The CLI loads each command's module on demand (the simulator only for demo mode): they
    // must be embedded all the same.
    assert.ok(/simulator/.test(text), "the simulator (demo mode) is embedded");
    // Only the npm packages the program imports: not the test and benchmark tools of deno.lock
    // (puppeteer-core alone would add about 40 MB to the binary).
    const npm = [...text.matchAll(/localhost\/([@\w.-]+(?:\/[\w.-]+)?)\/\d/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(npm)], ["yaml"], text.slice(0, 2000));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

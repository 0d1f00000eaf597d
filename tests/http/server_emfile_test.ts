/**
 * `accept()` failing for lack of descriptors (EMFILE) does not stop the
 * bounded front: a server run as a subprocess under `ulimit -n 48` with a cap
 * far above what fits, flooded with silent connections right after it
 * starts, stays alive (Deno itself panicked there before the front set up
 * its signal handling early), answers during the flood, lowers its cap, and
 * answers at once when the flood is released.
 *
 * @module
 */

import assert from "node:assert/strict";

const SERVER = new URL("../../src/http/server.ts", import.meta.url).href;

const SCRIPT = `
import { serveBounded } from ${JSON.stringify(SERVER)};
const server = await serveBounded({
  hostname: "127.0.0.1", port: 0, idleTimeoutMs: 600_000, headerTimeoutMs: 600_000,
  maxConnections: 10_000,
  handler: (request) => new URL(request.url).pathname === "/stats"
    ? Response.json(server.stats())
    : new Response("ok\\n"),
});
console.log("listening " + server.addr.port);
`;

Deno.test("EMFILE from accept(): the server sheds, backs off, lives and answers after the flood", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wecom-emfile-" });
  const script = `${dir}/server.ts`;
  await Deno.writeTextFile(script, SCRIPT);
  const child = new Deno.Command("bash", {
    args: ["-c", 'ulimit -n 48 && exec "$@"', "bash", Deno.execPath(), "run", "-A", script],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output: string[] = [];
  const port = Promise.withResolvers<number>();
  const read = async (stream: ReadableStream<Uint8Array>) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      output.push(text);
      const match = /listening (\d+)/.exec(output.join(""));
      if (match) port.resolve(Number(match[1]));
    }
  };
  const reading = Promise.all([read(child.stdout), read(child.stderr)]);
  const conns: Deno.Conn[] = [];
  try {
    const timer = setTimeout(() => port.reject(new Error(`no port: ${output.join("")}`)), 20_000);
    const p = await port.promise;
    clearTimeout(timer);
    for (let i = 0; i < 120; i++) {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port: p }));
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const health = await fetch(`http://127.0.0.1:${p}/`, { signal: AbortSignal.timeout(5000) });
    assert.equal(health.status, 200, "answers during the flood");
    await health.body?.cancel();
    for (const conn of conns.splice(0)) conn.close();
    const began = performance.now();
    const stats = await (await fetch(`http://127.0.0.1:${p}/stats`, {
      signal: AbortSignal.timeout(5000),
    })).json();
    assert.ok(performance.now() - began < 1000, "answered at once after the flood");
    assert.ok(stats.events.accept_error > 0, `accept() did run out: ${JSON.stringify(stats)}`);
    assert.ok(stats.events.shed > 0, `the idlest were shed: ${JSON.stringify(stats)}`);
    assert.ok(stats.cap < 48, `the cap came down under the descriptors: ${JSON.stringify(stats)}`);
    assert.ok(!/Uncaught/.test(output.join("")), output.join(""));
  } catch (error) {
    throw new Error(`${(error as Error).message}; the server wrote:\n${output.join("")}`);
  } finally {
    for (const conn of conns) conn.close();
    try {
      child.kill("SIGKILL");
    } catch {
      // exited: its output is in the failure above
    }
    await child.status;
    await reading.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

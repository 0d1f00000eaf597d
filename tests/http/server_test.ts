/**
 * The bounded front of the callback server, in process: idle keep-alive
 * connections, slowloris heads, connections answered 408/413 and floods of
 * connections are closed within their bounds, while real requests on other
 * connections are answered.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type BoundedServer,
  connectionCap,
  serveBounded,
  startCallbackServer,
} from "../../src/http/server.ts";

const encoder = new TextEncoder();

function start(limits: { idleMs?: number; headerMs?: number; max?: number } = {}) {
  return serveBounded({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeoutMs: limits.idleMs ?? 60_000,
    headerTimeoutMs: limits.headerMs ?? 60_000,
    maxConnections: limits.max ?? 1024,
    handler: async (request) => {
      if (request.method === "POST") {
        if (Number(request.headers.get("content-length") ?? 0) > 1000) {
          await request.body?.cancel();
          return new Response("too big\n", { status: 413 });
        }
        return new Response(`got ${(await request.text()).length}\n`);
      }
      if (new URL(request.url).pathname === "/slow-body") {
        return new Response("too slow\n", { status: 408 });
      }
      return new Response("ok\n");
    },
  });
}

interface Raw {
  conn: Deno.Conn;
  /** Resolves with ms from `since` to the server's close, and what it sent. */
  closed: Promise<{ ms: number; text: string }>;
}

/** Opens a connection, writes `first`, and reads until the server closes it. */
async function open(server: BoundedServer, first = ""): Promise<Raw> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  const since = performance.now();
  if (first) await conn.write(encoder.encode(first));
  const closed = (async () => {
    const buffer = new Uint8Array(4096);
    let text = "";
    try {
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) break;
        text += new TextDecoder().decode(buffer.subarray(0, n));
      }
    } catch {
      // reset
    }
    return { ms: performance.now() - since, text };
  })();
  return { conn, closed };
}

function closeAll(raws: Raw[]): void {
  for (const raw of raws) {
    try {
      raw.conn.close();
    } catch {
      // closed by the server
    }
  }
}

async function get(server: BoundedServer, path = "/health"): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${server.addr.port}${path}`, {
    signal: AbortSignal.timeout(3000),
  });
  await response.body?.cancel();
  return response.status;
}

Deno.test("an idle keep-alive connection is closed after the idle timeout, not before", async () => {
  const server = await start({ idleMs: 600 });
  try {
    const raw = await open(server, "GET /health HTTP/1.1\r\nHost: gw\r\n\r\n");
    const { ms, text } = await raw.closed;
    assert.ok(text.startsWith("HTTP/1.1 200"), text);
    assert.ok(ms >= 550 && ms < 2000, `closed ${Math.round(ms)} ms after the answer`);
    assert.equal(server.stats().events.idle_timeout, 1);
  } finally {
    await server.shutdown();
  }
});

Deno.test("50 slowloris connections are cut within the header timeout while a real request is answered", async () => {
  const headerMs = 800;
  const server = await start({ headerMs, idleMs: 60_000 });
  let trickle: ReturnType<typeof setInterval> | undefined;
  try {
    const raws = await Promise.all(
      Array.from(
        { length: 50 },
        (_, i) => open(server, `GET /health?${i} HTTP/1.1\r\nHost: gw\r\n`),
      ),
    );
    // One more header line every 100 ms: a trickle that an idle timer alone would never cut.
    trickle = setInterval(() => {
      for (const raw of raws) raw.conn.write(encoder.encode("X-A: b\r\n")).catch(() => {});
    }, 100);
    assert.equal(await get(server), 200, "a real request is answered during the attack");
    const results = await Promise.all(raws.map((raw) => raw.closed));
    const slowest = Math.max(...results.map((r) => r.ms));
    assert.ok(slowest < headerMs + 700, `all 50 closed within ${Math.round(slowest)} ms`);
    assert.ok(results.every((r) => r.ms >= headerMs - 50), "none closed before the header timeout");
    assert.deepEqual(results.filter((r) => r.text !== ""), [], "none was answered");
    assert.equal(server.stats().events.header_timeout, 50);
  } finally {
    clearInterval(trickle);
    await server.shutdown();
  }
});

Deno.test("a connection that sends nothing is cut at the header timeout", async () => {
  const server = await start({ headerMs: 300 });
  try {
    const { ms, text } = await (await open(server)).closed;
    assert.equal(text, "");
    assert.ok(ms >= 250 && ms < 1200, `closed after ${Math.round(ms)} ms`);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a connection answered 413 or 408 is closed at once; a 200 on keep-alive stays open", async () => {
  const server = await start({ idleMs: 60_000 });
  try {
    const big = await open(server, "POST /x HTTP/1.1\r\nHost: gw\r\nContent-Length: 5000\r\n\r\n");
    const { ms, text } = await big.closed;
    assert.ok(text.startsWith("HTTP/1.1 413"), text);
    assert.ok(ms < 2000, `closed ${Math.round(ms)} ms after the request`);
    assert.equal(server.stats().events.closed_after_error, 1);

    const slow = await open(server, "GET /slow-body HTTP/1.1\r\nHost: gw\r\n\r\n");
    const answered408 = await slow.closed;
    assert.ok(answered408.text.startsWith("HTTP/1.1 408"), answered408.text);
    assert.ok(answered408.ms < 2000, `closed ${Math.round(answered408.ms)} ms after the request`);
    assert.equal(server.stats().events.closed_after_error, 2);

    const fine = await open(
      server,
      "POST /x HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\n\r\nhello",
    );
    const outcome = await Promise.race([
      fine.closed.then(() => "closed"),
      new Promise((resolve) => setTimeout(() => resolve("open"), 800)),
    ]);
    assert.equal(outcome, "open", "a good answer keeps the connection");
    closeAll([fine]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("at the connection cap the idlest connections are shed and new requests are answered", async () => {
  const server = await start({ max: 8 });
  const raws: Raw[] = [];
  try {
    for (let i = 0; i < 30; i++) raws.push(await open(server));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(server.stats().open <= 8, `open ${server.stats().open}`);
    for (let i = 0; i < 5; i++) assert.equal(await get(server), 200, "answered at the cap");
    assert.ok(server.stats().events.shed >= 22, `shed ${server.stats().events.shed}`);
    // The oldest were shed, the newest are held.
    const firstClosed = await Promise.race([
      raws[0].closed.then(() => true),
      new Promise((resolve) => setTimeout(() => resolve(false), 500)),
    ]);
    assert.equal(firstClosed, true, "the first (idlest) connection was shed");
  } finally {
    closeAll(raws);
    await server.shutdown();
  }
});

Deno.test("a request in progress is not shed: at the cap with every slot busy, the newcomer is refused", async () => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => release = resolve);
  const server = await serveBounded({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeoutMs: 60_000,
    headerTimeoutMs: 60_000,
    maxConnections: 8,
    handler: async () => {
      await held;
      return new Response("late\n");
    },
  });
  try {
    const busy = await Promise.all(
      Array.from({ length: 8 }, () => open(server, "GET /slow HTTP/1.1\r\nHost: gw\r\n\r\n")),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const newcomer = await open(server, "GET /health HTTP/1.1\r\nHost: gw\r\n\r\n");
    assert.equal((await newcomer.closed).text, "", "refused without an answer");
    assert.equal(server.stats().events.refused, 1);
    release();
    await server.shutdown(); // lets the answers in progress finish, then closes
    for (const raw of busy) {
      assert.ok((await raw.closed).text.includes("late"), "each busy one answered");
    }
  } finally {
    release();
    await server.shutdown();
  }
});

Deno.test("startCallbackServer without the front is Deno.serve alone: the idle connection stays", async () => {
  const server = await startCallbackServer({
    hostname: "127.0.0.1",
    port: 0,
    limits: { idleTimeoutMs: 300, headerTimeoutMs: 300, maxConnections: 8, front: false },
    handler: () => new Response("ok"),
  });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    const outcome = await Promise.race([
      conn.read(new Uint8Array(16)).then((n) => n === null ? "closed" : "data"),
      new Promise((resolve) => setTimeout(() => resolve("open"), 1000)),
    ]);
    assert.equal(outcome, "open", "what the front exists for: Deno.serve never cuts it");
    conn.close();
  } finally {
    await server.shutdown();
  }
});

Deno.test("connectionCap keeps descriptors for KV and the WeCom API", () => {
  assert.equal(connectionCap(1024, 1024), 298);
  assert.equal(connectionCap(1024, 65536), 1024);
  assert.equal(connectionCap(1024, undefined), 1024);
  assert.equal(connectionCap(1024, 100), 8);
});

Deno.test("Expect: 100-continue: the interim answer does not end the request", async () => {
  const server = await start({ headerMs: 300, idleMs: 60_000 });
  try {
    const raw = await open(
      server,
      "POST /x HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    await raw.conn.write(encoder.encode("hello"));
    // Longer than the header timeout: a body taken for a new head would be cut by now.
    const outcome = await Promise.race([
      raw.closed.then(() => "closed"),
      new Promise((resolve) => setTimeout(() => resolve("open"), 900)),
    ]);
    assert.equal(outcome, "open");
    assert.equal(server.stats().events.header_timeout, 0);
    closeAll([raw]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a head ended by bare LF LF counts as complete: answered, then held as keep-alive", async () => {
  const server = await start({ headerMs: 300, idleMs: 60_000 });
  try {
    const raw = await open(server, "GET /health HTTP/1.1\nHost: gw\n\n");
    const outcome = await Promise.race([
      raw.closed.then(() => "closed"),
      new Promise((resolve) => setTimeout(() => resolve("open"), 900)),
    ]);
    assert.equal(outcome, "open", "not cut at the header timeout");
    assert.equal(server.stats().events.header_timeout, 0);
    closeAll([raw]);
    assert.ok((await raw.closed).text.startsWith("HTTP/1.1 200"), "answered");
  } finally {
    await server.shutdown();
  }
});

import assert from "node:assert/strict";
import { encodePost, openConnection } from "../../../bench/lib/http1.ts";

const decoder = new TextDecoder();

/** A Deno.serve on loopback that answers by path, counting the connections it saw. */
function startServer() {
  const peers = new Set<string>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request, info) => {
      peers.add(`${info.remoteAddr.hostname}:${info.remoteAddr.port}`);
      const url = new URL(request.url);
      const body = await request.text();
      if (url.pathname === "/empty") return new Response(null, { status: 200 });
      if (url.pathname === "/echo") {
        return new Response(`${url.search}|${body}`, { status: 403 });
      }
      if (url.pathname === "/chunked") {
        const parts = ["alpha-", "beta-", "你好"];
        return new Response(
          new ReadableStream({
            async pull(controller) {
              const part = parts.shift();
              if (part === undefined) return controller.close();
              await new Promise((resolve) => setTimeout(resolve, 5));
              controller.enqueue(new TextEncoder().encode(part));
            },
          }),
        );
      }
      if (url.pathname === "/close") {
        return new Response("bye", { headers: { connection: "close" } });
      }
      return new Response("no such path", { status: 404 });
    },
  );
  return { server, port: server.addr.port, peers };
}

Deno.test("http1 client reads status and body, with Content-Length and chunked", async () => {
  const { server, port } = startServer();
  const connection = await openConnection("127.0.0.1", port);
  try {
    const empty = await connection.send(encodePost("127.0.0.1", port, "/empty?a=1", "<xml/>"));
    assert.equal(empty.status, 200);
    assert.equal(empty.body.length, 0);

    const echo = await connection.send(encodePost("127.0.0.1", port, "/echo?q=2", "内容<xml/>"));
    assert.equal(echo.status, 403);
    assert.equal(decoder.decode(echo.body), "?q=2|内容<xml/>");

    const chunked = await connection.send(encodePost("127.0.0.1", port, "/chunked", ""));
    assert.equal(chunked.status, 200);
    assert.equal(decoder.decode(chunked.body), "alpha-beta-你好");

    const missing = await connection.send(encodePost("127.0.0.1", port, "/nope", "x"));
    assert.equal(missing.status, 404);
  } finally {
    connection.close();
    await server.shutdown();
  }
});

Deno.test("http1 client keeps one connection alive across requests", async () => {
  const { server, port, peers } = startServer();
  const connection = await openConnection("127.0.0.1", port);
  try {
    for (let i = 0; i < 20; i++) {
      const { status } = await connection.send(encodePost("127.0.0.1", port, "/empty", `${i}`));
      assert.equal(status, 200);
    }
    assert.equal(peers.size, 1);
    assert.equal(connection.open, true);
  } finally {
    connection.close();
    await server.shutdown();
  }
});

Deno.test("http1 client honours Connection: close and fails the next send clearly", async () => {
  const { server, port } = startServer();
  const connection = await openConnection("127.0.0.1", port);
  try {
    const { status, body } = await connection.send(encodePost("127.0.0.1", port, "/close", ""));
    assert.equal(status, 200);
    assert.equal(decoder.decode(body), "bye");
    assert.equal(connection.open, false);
    await assert.rejects(
      connection.send(encodePost("127.0.0.1", port, "/empty", "")),
      /connection is closed/,
    );
  } finally {
    connection.close();
    await server.shutdown();
  }
});

Deno.test("http1 client rejects when the server goes away mid-request", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const accepted = (async () => {
    const conn = await listener.accept();
    await conn.read(new Uint8Array(1024));
    conn.close(); // no answer at all
  })();
  const connection = await openConnection("127.0.0.1", port);
  try {
    await assert.rejects(
      connection.send(encodePost("127.0.0.1", port, "/x", "body")),
      /server closed the connection/,
    );
    assert.equal(connection.open, false);
  } finally {
    connection.close();
    await accepted;
    listener.close();
  }
});

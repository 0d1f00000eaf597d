import assert from "node:assert/strict";
import { BodyError, readBody } from "../../src/http/body.ts";

Deno.test("readBody returns the UTF-8 text", async () => {
  const text = await readBody(
    new Request("http://x/", { method: "POST", body: "你好" }),
    100,
    1000,
  );
  assert.equal(text, "你好");
});

Deno.test("readBody refuses a declared length over the cap without reading", async () => {
  const request = new Request("http://x/", {
    method: "POST",
    body: "x".repeat(10),
    headers: { "content-length": "70000" },
  });
  await assert.rejects(
    readBody(request, 65536, 1000),
    (error: unknown) => error instanceof BodyError && error.status === 413,
  );
});

Deno.test("readBody stops a streamed body as soon as it passes the cap", async () => {
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(new Uint8Array(16 * 1024));
      if (pulled > 100) controller.close();
    },
  });
  const request = new Request("http://x/", { method: "POST", body: stream });
  await assert.rejects(
    readBody(request, 65536, 1000),
    (error: unknown) => error instanceof BodyError && error.status === 413,
  );
  assert.equal(pulled < 10, true, `read ${pulled} chunks before refusing`);
});

Deno.test("readBody gives 408 when the body does not arrive in time", async () => {
  const stream = new ReadableStream<Uint8Array>({ start() {} });
  const request = new Request("http://x/", { method: "POST", body: stream });
  await assert.rejects(
    readBody(request, 65536, 50),
    (error: unknown) => error instanceof BodyError && error.status === 408,
  );
});

Deno.test("readBody gives 400 for bytes that are not UTF-8", async () => {
  const request = new Request("http://x/", {
    method: "POST",
    body: new Uint8Array([0x3c, 0xff, 0xfe]),
  });
  await assert.rejects(
    readBody(request, 100, 1000),
    (error: unknown) => error instanceof BodyError && error.status === 400,
  );
});

Deno.test("readBody reads a body with a Content-Length in one go", async () => {
  const body = "<xml>" + "内容".repeat(1000) + "</xml>";
  const request = new Request("http://x/", {
    method: "POST",
    body,
    headers: { "content-length": String(new TextEncoder().encode(body).length) },
  });
  assert.equal(await readBody(request, 65536, 1000), body);
});

Deno.test("readBody gives 408 when a body with a Content-Length does not arrive in time", async () => {
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode("<xml>"));
    },
  });
  const request = new Request("http://x/", {
    method: "POST",
    body: stream,
    headers: { "content-length": "100" },
  });
  await assert.rejects(
    readBody(request, 65536, 50),
    (error: unknown) => error instanceof BodyError && error.status === 408,
  );
});

Deno.test("readBody refuses a body longer than the cap even when its Content-Length says less", async () => {
  const request = new Request("http://x/", {
    method: "POST",
    body: "x".repeat(200),
    headers: { "content-length": "10" },
  });
  await assert.rejects(
    readBody(request, 100, 1000),
    (error: unknown) => error instanceof BodyError && error.status === 413,
  );
});

Deno.test("readBody gives 400 for a body with a Content-Length that is not UTF-8", async () => {
  const request = new Request("http://x/", {
    method: "POST",
    body: new Uint8Array([0x3c, 0xff, 0xfe]),
    headers: { "content-length": "3" },
  });
  await assert.rejects(
    readBody(request, 100, 1000),
    (error: unknown) => error instanceof BodyError && error.status === 400,
  );
});

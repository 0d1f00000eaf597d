import assert from "node:assert/strict";
import { parseQuery } from "../../src/http/query.ts";

Deno.test("parseQuery percent-decodes and keeps a raw + (URLSearchParams would make it a space)", () => {
  const query = parseQuery(
    "?msg_signature=5c45&echostr=P9nAzCzy%2FqYX3+4RPc%3D%3D&nonce=263014780",
  );
  assert.equal(query.get("echostr"), "P9nAzCzy/qYX3+4RPc==");
  assert.equal(query.get("nonce"), "263014780");
  assert.equal(query.get("msg_signature"), "5c45");
});

Deno.test("parseQuery keeps the first of repeated parameters and skips malformed escapes", () => {
  const query = parseQuery("a=1&a=2&b=%E4%BD%A0&c=%zz&&d");
  assert.equal(query.get("a"), "1");
  assert.equal(query.get("b"), "你");
  assert.equal(query.has("c"), false);
  assert.equal(query.get("d"), "");
});

import { equal } from "node:assert/strict";
import { parseQuery } from "../../src/http/query.ts";

Deno.test("parseQuery percent-decodes and keeps a raw + (URLSearchParams would make it a space)", () => {
  const query = parseQuery(
    "?msg_signature=5c45&echostr=P9nAzCzy%2FqYX3+4RPc%3D%3D&nonce=263014780",
  );
  equal(query.get("echostr"), "P9nAzCzy/qYX3+4RPc==");
  equal(query.get("nonce"), "263014780");
  equal(query.get("msg_signature"), "5c45");
});

Deno.test("parseQuery keeps the first of repeated parameters and skips malformed escapes", () => {
  const query = parseQuery("a=1&a=2&b=%E4%BD%A0&c=%zz&&d");
  equal(query.get("a"), "1");
  equal(query.get("b"), "你");
  equal(query.has("c"), false);
  equal(query.get("d"), "");
});

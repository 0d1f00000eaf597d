import assert from "node:assert/strict";
import { safeUrl } from "../../src/text/format.ts";

Deno.test("safeUrl: origin and path only; user info, query, fragment and trailing slashes go", () => {
  assert.equal(
    safeUrl("https://user:pw@api.test:8443/v1/?key=k-secret#x"),
    "https://api.test:8443/v1",
  );
  assert.equal(safeUrl("http://127.0.0.1:8642/"), "http://127.0.0.1:8642");
  assert.equal(safeUrl("not a url"), "(not a URL)");
});

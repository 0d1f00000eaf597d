import assert from "node:assert/strict";
import { createAccessCheck } from "../../src/config/access.ts";

Deno.test("nobody is allowed by default", () => {
  const allowed = createAccessCheck({ allowAll: false, allowedUsers: [] });
  assert.equal(allowed("ww1", "lisi"), false);
});

Deno.test("a bare user id is allowed in every corp; corp:user only in that corp", () => {
  const allowed = createAccessCheck({ allowAll: false, allowedUsers: ["lisi", " ww1:zhangsan "] });
  assert.equal(allowed("ww1", "lisi"), true);
  assert.equal(allowed("ww2", "lisi"), true);
  assert.equal(allowed("ww1", "zhangsan"), true);
  assert.equal(allowed("ww2", "zhangsan"), false);
  assert.equal(allowed("ww1", "LISI"), false);
});

Deno.test("* and allowAll let everyone in", () => {
  assert.equal(createAccessCheck({ allowAll: false, allowedUsers: ["*"] })("x", "y"), true);
  assert.equal(createAccessCheck({ allowAll: true, allowedUsers: [] })("x", "y"), true);
});

import { equal } from "node:assert/strict";
import { createAccessCheck } from "../../src/config/access.ts";

Deno.test("nobody is allowed by default", () => {
  const allowed = createAccessCheck({ allowAll: false, allowedUsers: [] });
  equal(allowed("ww1", "lisi"), false);
});

Deno.test("a bare user id is allowed in every corp; corp:user only in that corp", () => {
  const allowed = createAccessCheck({ allowAll: false, allowedUsers: ["lisi", " ww1:zhangsan "] });
  equal(allowed("ww1", "lisi"), true);
  equal(allowed("ww2", "lisi"), true);
  equal(allowed("ww1", "zhangsan"), true);
  equal(allowed("ww2", "zhangsan"), false);
  equal(allowed("ww1", "LISI"), false);
});

Deno.test("* and allowAll let everyone in", () => {
  equal(createAccessCheck({ allowAll: false, allowedUsers: ["*"] })("x", "y"), true);
  equal(createAccessCheck({ allowAll: true, allowedUsers: [] })("x", "y"), true);
});

/**
 * Who may talk to the agent: WECOM_CALLBACK_ALLOWED_USERS entries `user`
 * (any corp) or `corp:user`, `*` or WECOM_CALLBACK_ALLOW_ALL_USERS for
 * everyone; nobody by default.
 *
 * @example Usage
 * ```ts
 * import { createAccessCheck } from "./access.ts";
 * const allowed = createAccessCheck({ allowAll: false, allowedUsers: ["lisi", "ww1:zhangsan"] });
 * console.assert(allowed("ww9", "lisi") && allowed("ww1", "zhangsan") && !allowed("ww2", "zhangsan"));
 * ```
 *
 * @module
 */

import type { AccessConfig } from "./types.ts";

/** Returns a fast predicate `(corpId, userId) => boolean` for the configured allowlist. */
export function createAccessCheck(
  access: Pick<AccessConfig, "allowAll" | "allowedUsers">,
): (corpId: string, userId: string) => boolean {
  const entries = access.allowedUsers.map((entry) => entry.trim()).filter((entry) => entry !== "");
  if (access.allowAll || entries.includes("*")) return () => true;
  const anyCorp = new Set<string>();
  const scoped = new Set<string>();
  for (const entry of entries) {
    if (entry.includes(":")) scoped.add(entry);
    else anyCorp.add(entry);
  }
  return (corpId, userId) => anyCorp.has(userId) || scoped.has(`${corpId}:${userId}`);
}

/**
 * Sharing one config.yaml with Hermes Agent.
 *
 * Hermes reads `platforms.wecom_callback` too: with `enabled: true` there, a
 * Hermes gateway started on the same file starts its own WeCom callback
 * adapter on the same port. A top-level `wecom_gateway:` section (same shape:
 * `enabled`, `extra`) is read by this gateway only: when it is present, the
 * gateway reads it in place of `platforms.wecom_callback`, which Hermes may
 * then leave disabled or absent.
 *
 * @example Usage
 * ```ts
 * import { withGatewaySection } from "./gateway_section.ts";
 * const root = withGatewaySection({
 *   platforms: { wecom_callback: { enabled: false } },
 *   wecom_gateway: { extra: { port: 8645 } },
 * });
 * const platforms = root.platforms as { wecom_callback: { extra: { port: number } } };
 * console.assert(platforms.wecom_callback.extra.port === 8645);
 * ```
 *
 * @module
 */

import { GATEWAY_ONLY_SECTION } from "./keys.ts";
import { isMapping } from "./yaml_file.ts";

/**
 * `root` with `wecom_gateway` (when it is a mapping) standing in for
 * `platforms.wecom_callback`; `root` itself otherwise. The rest is untouched.
 *
 * @example Usage
 * ```ts
 * import { withGatewaySection } from "./gateway_section.ts";
 * const root = { platforms: { wecom_callback: { extra: { port: 1 } } } };
 * console.assert(withGatewaySection(root) === root);
 * ```
 */
export function withGatewaySection(
  root: Readonly<Record<string, unknown>>,
): Readonly<Record<string, unknown>> {
  const own = root[GATEWAY_ONLY_SECTION];
  if (!isMapping(own)) return root;
  const platforms = isMapping(root.platforms) ? root.platforms : {};
  return { ...root, platforms: { ...platforms, wecom_callback: own } };
}

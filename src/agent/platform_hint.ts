/**
 * The platform hint: a few lines telling an agent what WeCom shows and what
 * it can send, so it formats for the chat and does not claim it cannot send
 * files. The openai backend adds it to its system prompt (`agent.platform_hint`,
 * on by default); the http backend passes it on as `platform_hint`.
 *
 * @example Usage
 * ```ts
 * import { platformHint } from "./platform_hint.ts";
 * const hint = platformHint({ markdown: false, uploadRoots: ["/srv/agent/out"] });
 * console.assert(hint.includes("MEDIA:/") && hint.includes("/srv/agent/out"));
 * ```
 *
 * @module
 */

/** What the hint depends on. */
export interface PlatformHintOptions {
  /** Replies go out as WeCom markdown (`markdown` in config.yaml). */
  markdown: boolean;
  /** Folders files may be sent from (`gateway.media.upload_roots`). */
  uploadRoots: readonly string[];
}

/**
 * Returns the hint text (a handful of short lines).
 *
 * @example Usage
 * ```ts
 * import { platformHint } from "./platform_hint.ts";
 * console.assert(platformHint({ markdown: true, uploadRoots: [] }).includes("**bold**"));
 * ```
 */
export function platformHint(options: PlatformHintOptions): string {
  const roots = options.uploadRoots.length > 0
    ? `files under ${options.uploadRoots.join(", ")} and the files this user sent you`
    : "the files this user sent you";
  return [
    "You are answering a member in WeCom (企业微信) through a self-built app.",
    options.markdown
      ? "Formatting: WeCom shows a markdown subset only: # headings, **bold**, [text](url), " +
        '`code`, > quotes, <font color="info|comment|warning">text</font>. No tables, images ' +
        "or nested lists. Members using the WeChat plugin see it as plain text."
      : "Formatting: replies are shown as plain text; do not use markdown.",
    "Long answers are split into messages of at most 2048 bytes (about 680 Chinese " +
    "characters); keep answers concise.",
    "You can send files: write each on its own line as MEDIA:/absolute/path. Images go out as " +
    "images (JPG/PNG, up to 10 MB), voice as voice (AMR, up to 2 MB and 60 s), video as video " +
    "(MP4, up to 10 MB), anything else as a file (up to 20 MB). Only " + roots +
    " can be sent.",
    "Members can send you text, images, voice, video, locations and links (you get them as " +
    "[image] file=… lines); WeCom does not deliver files to this app.",
  ].join("\n");
}

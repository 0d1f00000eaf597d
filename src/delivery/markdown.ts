/**
 * The plain-text rendering of a WeCom markdown message, for members who read
 * the app in the WeChat plugin (微信插件), where WeCom markdown is not shown
 * ("暂不支持此消息类型").
 *
 * Markup that would show as noise goes: `#` of headings, `**`/`__`/`*`/`~~`
 * emphasis, backticks, code fences, `<font color>` tags, backslash escapes;
 * links become `text (url)` and images `alt (url)`. Lists, quotes and line
 * breaks stay, since they read well as text. Code inside fences and inline
 * code is kept as written. The result is never longer (in UTF-8 bytes) than
 * its input, so a chunk that fits 2048 bytes as markdown still fits as text.
 *
 * @example Usage
 * ```ts
 * import { markdownToText } from "./markdown.ts";
 * const text = markdownToText('## Weather\n**Sunny**, see [the map](https://m.example).');
 * console.assert(text === "Weather\nSunny, see the map (https://m.example).");
 * ```
 *
 * @module
 */

const FENCE = /^\s*(```|~~~)/;

/**
 * Renders WeCom markdown as plain text.
 *
 * @example Usage
 * ```ts
 * import { markdownToText } from "./markdown.ts";
 * console.assert(markdownToText('<font color="warning">3 failed</font>') === "3 failed");
 * console.assert(markdownToText("`a*b*c`") === "a*b*c");
 * ```
 */
export function markdownToText(markdown: string): string {
  const out: string[] = [];
  let fence: string | null = null;
  for (const line of markdown.split("\n")) {
    const marker = FENCE.exec(line)?.[1];
    if (marker && (fence === null || fence === marker)) {
      fence = fence === null ? marker : null;
      continue; // the fence line itself
    }
    out.push(fence === null ? plainLine(line) : line);
  }
  return out.join("\n");
}

function plainLine(line: string): string {
  // Inline code and escaped characters are kept verbatim: cut out first, put back last.
  const kept: string[] = [];
  const keep = (value: string) => {
    kept.push(value);
    return `\u0000${kept.length - 1}\u0000`;
  };
  let text = line
    .replace(/`([^`]+)`/g, (_, code: string) => keep(code))
    .replace(/\\([\\`*_{}[\]()#+\-.!>~|])/g, (_, char: string) => keep(char));
  text = text
    .replace(/^(\s{0,3})#{1,6}\s+/, "$1")
    .replace(/<\/?font\b[^>]*>/gi, "")
    .replace(/!\[([^\]]*)\]\(([^)\s]+)\)/g, (_, alt: string, url: string) => linkText(alt, url))
    .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (_, label: string, url: string) => linkText(label, url))
    .replace(/(\*\*|__)(?=\S)(.+?)(?<=\S)\1/g, "$2")
    .replace(/~~(?=\S)(.+?)(?<=\S)~~/g, "$1")
    .replace(/(^|[^\w*])\*(?=[^\s*])([^*]+?)(?<=[^\s*])\*(?![\w*])/g, "$1$2");
  // deno-lint-ignore no-control-regex
  return text.replace(/\u0000(\d+)\u0000/g, (_, index: string) => kept[Number(index)]);
}

function linkText(label: string, url: string): string {
  const shown = label.trim();
  return shown === "" || shown === url ? url : `${shown} (${url})`;
}

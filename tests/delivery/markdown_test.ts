import assert from "node:assert/strict";
import { markdownToText } from "../../src/delivery/markdown.ts";
import { splitMessage, WECOM_MAX_MESSAGE_BYTES } from "../../src/text/split.ts";

const bytes = (text: string) => new TextEncoder().encode(text).length;

Deno.test("markdownToText removes WeCom markdown markup and keeps the words", () => {
  const cases: [string, string][] = [
    ["# 标题\n## Sub", "标题\nSub"],
    ["**粗体** and __bold__ and *em* and ~~gone~~", "粗体 and bold and em and gone"],
    ['<font color="info">绿色</font> <FONT color=warning>x</FONT>', "绿色 x"],
    [
      "[看板](https://b.example) and [https://a.b](https://a.b)",
      "看板 (https://b.example) and https://a.b",
    ],
    ["![logo](https://x/y.png)", "logo (https://x/y.png)"],
    ["`a*b*c` stays", "a*b*c stays"],
    ["```js\nconst **x** = `y`;\n```\ndone", "const **x** = `y`;\ndone"],
    ["> quote **b**\n- item\n* star", "> quote b\n- item\n* star"],
    ["snake_case and 2*3*4 and #tag", "snake_case and 2*3*4 and #tag"],
    ["\\*literal\\* \\# \\[x\\]", "*literal* # [x]"],
  ];
  for (const [markdown, text] of cases) assert.equal(markdownToText(markdown), text, markdown);
});

Deno.test("the plain rendering is never longer, so a markdown chunk still fits one message", () => {
  const samples = [
    "## 周报\n**完成** 3 项，见 [看板](https://board.example)\n" + "- 第一项 **重要**\n".repeat(80),
    "[a](b) ".repeat(300),
    '<font color="comment">' + "注释".repeat(300) + "</font>",
    "```\n" + "**not bold** ".repeat(150) + "\n```",
  ];
  for (const sample of samples) {
    for (const chunk of splitMessage(sample, WECOM_MAX_MESSAGE_BYTES, { markdown: true })) {
      const plain = markdownToText(chunk);
      assert.ok(bytes(plain) <= bytes(chunk));
      assert.ok(bytes(plain) <= WECOM_MAX_MESSAGE_BYTES);
    }
  }
});

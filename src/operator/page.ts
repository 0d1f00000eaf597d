/**
 * The operator console page: one HTML document with its stylesheet, texts
 * (English and Chinese) and script inline, served by the operator listener at
 * `/`. Part of the program itself (TS string modules), so `deno compile`
 * embeds it and nothing is fetched at run time.
 *
 * @example Usage
 * ```ts
 * import { CONSOLE_PAGE } from "./page.ts";
 * console.assert(CONSOLE_PAGE.startsWith("<!doctype html>"));
 * ```
 *
 * @module
 */

import { CONSOLE_TEXTS } from "./page_i18n.ts";
import { CONSOLE_SCRIPT } from "./page_script.ts";
import { CONSOLE_STYLE } from "./page_style.ts";

/** `JSON.stringify` safe inside a `<script>` element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c");
}

/** The whole page. */
export const CONSOLE_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wecom-gateway</title>
<style>${CONSOLE_STYLE}</style>
</head>
<body>
<header>
<h1 id="title">wecom-gateway</h1>
<nav>
<button data-view="setup" data-tab="tabSetup">Setup</button>
<button data-view="health" data-tab="tabHealth">Health</button>
<button data-view="work" data-tab="tabWork">Work</button>
<button data-view="charts" data-tab="tabCharts">Charts</button>
<button data-view="log" data-tab="tabLog">Log</button>
</nav>
<div class="right"><span id="updated"></span><button id="langbtn">中文</button></div>
</header>
<main>
<section class="view" id="view-setup"></section>
<section class="view" id="view-health"></section>
<section class="view" id="view-work"></section>
<section class="view" id="view-charts"></section>
<section class="view" id="view-log"></section>
</main>
<div id="toast" class="toast"></div>
<script>
var TEXTS = ${scriptJson(CONSOLE_TEXTS)};
${CONSOLE_SCRIPT}
</script>
</body>
</html>
`;

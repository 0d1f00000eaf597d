/**
 * The operator console's stylesheet (embedded in the page; no file, no CDN).
 *
 * @example Usage
 * ```ts
 * import { CONSOLE_STYLE } from "./page_style.ts";
 * console.assert(CONSOLE_STYLE.includes(".card"));
 * ```
 *
 * @module
 */

/** The console's CSS. */
export const CONSOLE_STYLE = `
:root { --bg:#f5f6f8; --card:#fff; --ink:#1d2330; --mute:#667085; --line:#e3e6ec;
  --ok:#12805c; --okbg:#e6f6ef; --bad:#b42318; --badbg:#fdecea; --warn:#9a6700; --warnbg:#fff6dd;
  --acc:#1f6feb; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", "Noto Sans CJK SC", "PingFang SC",
  "Microsoft YaHei", sans-serif; }
header { background:#14213d; color:#fff; padding:10px 24px; display:flex; align-items:center; gap:24px; }
header h1 { font-size:17px; margin:0; font-weight:600; white-space:nowrap; }
nav { display:flex; gap:4px; flex-wrap:wrap; }
nav button { background:transparent; color:#c9d3e6; border:0; padding:7px 12px; border-radius:6px;
  font:inherit; cursor:pointer; }
nav button.on { background:#fff2; color:#fff; }
header .right { margin-left:auto; display:flex; gap:12px; align-items:center; color:#c9d3e6; font-size:12px; }
header .right button { background:#fff2; color:#fff; border:0; border-radius:6px; padding:5px 10px;
  cursor:pointer; font:inherit; }
main { max-width:1180px; margin:0 auto; padding:20px 24px 60px; }
section.view { display:none; } section.view.on { display:block; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:16px 18px;
  margin-bottom:16px; }
.card h2 { font-size:16px; margin:0 0 10px; display:flex; align-items:center; gap:10px; }
.card h3 { font-size:14px; margin:14px 0 6px; color:var(--mute); font-weight:600; }
.sub { color:var(--mute); font-size:12px; font-weight:400; }
.kv { display:grid; grid-template-columns: 170px 1fr; gap:6px 12px; align-items:center; }
.kv > div:nth-child(odd) { color:var(--mute); }
.val { display:flex; gap:8px; align-items:center; min-width:0; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Noto Sans Mono CJK SC", monospace;
  font-size:12.5px; }
.val code { background:#f1f3f7; border:1px solid var(--line); padding:3px 7px; border-radius:5px;
  overflow-wrap:anywhere; }
button.copy, button.act { border:1px solid var(--line); background:#fff; border-radius:6px;
  padding:3px 10px; cursor:pointer; font:inherit; font-size:12px; white-space:nowrap; }
button.act.primary { background:var(--acc); color:#fff; border-color:var(--acc); }
button:disabled { opacity:.6; cursor:default; }
.status { border-radius:8px; padding:10px 12px; margin-top:12px; display:flex; gap:10px; align-items:flex-start; }
.status .dot { width:10px; height:10px; border-radius:50%; margin-top:5px; flex:none; }
.status.ok { background:var(--okbg); } .status.ok .dot { background:var(--ok); }
.status.bad { background:var(--badbg); } .status.bad .dot { background:var(--bad); }
.status.wait { background:#eef1f6; } .status.wait .dot { background:#98a2b3; animation: pulse 1.4s infinite; }
.status.warn { background:var(--warnbg); } .status.warn .dot { background:var(--warn); }
.status b { display:block; }
@keyframes pulse { 50% { opacity:.3; } }
.row { display:flex; gap:8px; align-items:center; flex-wrap:wrap; margin-top:10px; }
input[type=text], input[type=password] { border:1px solid var(--line); border-radius:6px; padding:5px 8px;
  font:inherit; min-width:200px; }
table { width:100%; border-collapse:collapse; font-size:13px; }
th, td { text-align:left; padding:6px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--mute); font-weight:600; font-size:12px; }
td.err { color:var(--bad); max-width:380px; overflow-wrap:anywhere; }
.pill { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; background:#eef1f6; }
.pill.ok { background:var(--okbg); color:var(--ok); } .pill.bad { background:var(--badbg); color:var(--bad); }
.pill.warn { background:var(--warnbg); color:var(--warn); }
.empty { color:var(--mute); padding:6px 0; }
.charts { display:grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap:16px; }
.chart svg { width:100%; height:auto; display:block; }
.legend { display:flex; gap:14px; font-size:12px; color:var(--mute); flex-wrap:wrap; }
.legend i { display:inline-block; width:10px; height:3px; margin-right:5px; vertical-align:middle; }
pre.lines { background:#f1f3f7; border-radius:6px; padding:8px 10px; margin:6px 0 0; overflow:auto; }
.log td:first-child { white-space:nowrap; color:var(--mute); }
.overlay { position:fixed; inset:0; background:#14213dcc; display:flex; align-items:center; justify-content:center; }
.overlay .card { width:420px; }
.toast { position:fixed; bottom:18px; right:18px; background:#14213d; color:#fff; padding:8px 14px;
  border-radius:8px; font-size:13px; opacity:0; transition:opacity .2s; }
.toast.on { opacity:1; }
`;

/**
 * The operator console's script: plain browser JavaScript, no framework and
 * nothing fetched at run time. It polls the JSON under `/api/`, renders the
 * five views, draws the charts as SVG, and sends the two actions (retry, test
 * message) with the `X-Operator-Console` header (and the bearer token when
 * the listener has one; it is kept in the tab's sessionStorage only).
 *
 * @example Usage
 * ```ts
 * import { CONSOLE_SCRIPT } from "./page_script.ts";
 * console.assert(CONSOLE_SCRIPT.includes("function lineChart"));
 * ```
 *
 * @module
 */

/** The console's JavaScript (the texts are injected as `TEXTS` before it). */
export const CONSOLE_SCRIPT = String.raw`
"use strict";
var lang = (localStorage.getItem("lang") || navigator.language || "en").toLowerCase().indexOf("zh") === 0 ? "zh" : "en";
var view = (location.hash || "#setup").slice(1);
var token = sessionStorage.getItem("operatorToken") || "";
var sampleSeconds = 10;
var generated = null;
var testItems = {};
var conversationShown = "";

function t(key, vars) {
  var text = (TEXTS[lang] && TEXTS[lang][key]) || TEXTS.en[key] || key;
  return text.replace(/\{(\w+)\}/g, function (_, name) {
    return vars && vars[name] !== undefined && vars[name] !== null ? String(vars[name]) : "";
  });
}
function esc(value) {
  return String(value === undefined || value === null ? "" : value).replace(/[&<>"']/g, function (c) {
    return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
  });
}
function clock(ms) {
  var d = new Date(ms);
  return d.toLocaleTimeString(lang === "zh" ? "zh-CN" : "en-GB", { hour12: false });
}
function stamp(ms) {
  var d = new Date(ms);
  return d.toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", { hour12: false });
}
function age(iso) {
  var s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m";
  if (s < 86400) return Math.floor(s / 3600) + "h";
  return Math.floor(s / 86400) + "d";
}
function $(id) { return document.getElementById(id); }
function toast(text) {
  var el = $("toast");
  el.textContent = text;
  el.className = "toast on";
  clearTimeout(toast.timer);
  toast.timer = setTimeout(function () { el.className = "toast"; }, 1600);
}

function api(path, body) {
  var headers = { "X-Operator-Console": "1" };
  if (token) headers.Authorization = "Bearer " + token;
  var init = { headers: headers, cache: "no-store" };
  if (body !== undefined) {
    init.method = "POST";
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return fetch(path, init).then(function (response) {
    if (response.status === 401) { askToken(!!token); throw new Error("unauthorized"); }
    return response.json().then(function (data) {
      if (!response.ok) throw new Error(data.error || ("HTTP " + response.status));
      return data;
    });
  });
}

function askToken(wrong) {
  if ($("tokenbox")) return;
  var box = document.createElement("div");
  box.className = "overlay";
  box.id = "tokenbox";
  box.innerHTML = '<div class="card"><h2>' + esc(t("tokenTitle")) + '</h2><p>' + esc(t("tokenPrompt")) +
    '</p>' + (wrong ? '<p class="sub" style="color:var(--bad)">' + esc(t("tokenWrong")) + '</p>' : "") +
    '<div class="row"><input id="tokeninput" type="password" autocomplete="off">' +
    '<button class="act primary" id="tokengo">' + esc(t("open")) + '</button></div></div>';
  document.body.appendChild(box);
  $("tokengo").onclick = function () {
    token = $("tokeninput").value.trim();
    sessionStorage.setItem("operatorToken", token);
    box.remove();
    refresh();
  };
}

function copyButton(value) {
  return '<button class="copy" data-copy="' + esc(value) + '">' + esc(t("copy")) + '</button>';
}
document.addEventListener("click", function (event) {
  var target = event.target;
  if (!(target instanceof HTMLElement)) return;
  if (target.dataset.copy !== undefined) {
    var value = target.dataset.copy;
    var done = function () { toast(t("copied")); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(value).then(done, function () { fallbackCopy(value); done(); });
    } else { fallbackCopy(value); done(); }
  }
});
function fallbackCopy(value) {
  var area = document.createElement("textarea");
  area.value = value;
  document.body.appendChild(area);
  area.select();
  try { document.execCommand("copy"); } catch (_) { /* shown anyway */ }
  area.remove();
}

function field(label, value, copy) {
  return "<div>" + esc(label) + '</div><div class="val"><code>' + esc(value) + "</code>" +
    (copy ? copyButton(value) : "") + "</div>";
}

var DIAGNOSIS = { ok: "vOk", token: "vToken", key: "vKey", corp: "vCorp", clock: "vClock", query: "vQuery", path: "vPath", other: "vOther" };

function verificationBox(app) {
  var v = app.verification;
  if (!v) {
    return '<div class="status wait" data-verification="waiting"><span class="dot"></span><div><b>' +
      esc(t("waitingTitle")) + "</b>" + esc(t("waiting")) + "</div></div>";
  }
  var vars = { time: stamp(v.at), path: v.path, status: v.status };
  return '<div class="status ' + (v.ok ? "ok" : "bad") + '" data-verification="' + esc(v.code) +
    '"><span class="dot"></span><div><b>' + esc(t(v.ok ? "verifiedTitle" : "failedTitle")) + "</b>" +
    esc(t(DIAGNOSIS[v.code] || "vOther", vars)) + "</div></div>";
}

function trustedBox(app) {
  if (!app.trustedIp) return "";
  var text = app.trustedIp.ip ? t("trustedIp", { ip: app.trustedIp.ip }) : t("trustedNoIp");
  return '<div class="status warn" data-trusted-ip="' + esc(app.trustedIp.ip || "") +
    '"><span class="dot"></span><div><b>' + esc(t("trustedTitle")) + "</b>" + esc(text) +
    (app.trustedIp.ip ? " " + copyButton(app.trustedIp.ip) : "") + "</div></div>";
}

function renderSetup(data) {
  var html = "";
  var anyPublic = false;
  data.apps.forEach(function (app) {
    var urls = app.callbackUrls.map(function (url) {
      if (url.indexOf("YOUR_PUBLIC_HOST") >= 0) anyPublic = true;
      return field(t("callbackUrl"), url, true);
    }).join("");
    html += '<div class="card" data-app="' + esc(app.name) + '"><h2>' + esc(app.name) +
      ' <span class="sub">' + esc(t("corpId")) + " " + esc(app.corpId) + " · " + esc(t("agentId")) + " " +
      esc(app.agentId) + "</span></h2>" +
      '<p class="sub">' + esc(t("pasteInto")) + "</p>" +
      '<div class="kv">' + urls + field("Token", app.token, true) +
      field("EncodingAESKey", app.encodingAesKey, true) + "</div>" +
      (anyPublic ? '<p class="sub">' + esc(t("publicHostNote")) + "</p>" : "") +
      verificationBox(app) + trustedBox(app) +
      "<h3>" + esc(t("testTitle")) + '</h3><div class="row"><input type="text" class="testuser" placeholder="' +
      esc(t("testMember")) + '"><button class="act primary testsend" data-app="' + esc(app.name) + '">' +
      esc(t("testSend")) + '</button><span class="testresult" data-app="' + esc(app.name) + '"></span></div></div>';
  });
  if (data.stray.length > 0) {
    html += '<div class="card"><h2>' + esc(t("strayTitle")) + "</h2>" + data.stray.map(function (v) {
      return '<div class="status bad" data-verification="path"><span class="dot"></span><div>' +
        esc(t("vPath", { time: stamp(v.at), path: v.path })) + "</div></div>";
    }).join("") + "</div>";
  }
  html += '<div class="card"><h2>' + esc(t("genTitle")) + '</h2><button class="act" id="generate">' +
    esc(t("genButton")) + '</button><div id="generated"></div></div>';
  var kept = {};
  document.querySelectorAll("#view-setup .testuser").forEach(function (input, i) { kept[i] = input.value; });
  var results = {};
  document.querySelectorAll("#view-setup .testresult").forEach(function (el) { results[el.dataset.app] = el.textContent; });
  $("view-setup").innerHTML = html;
  document.querySelectorAll("#view-setup .testuser").forEach(function (input, i) { if (kept[i]) input.value = kept[i]; });
  document.querySelectorAll("#view-setup .testresult").forEach(function (el) { el.textContent = results[el.dataset.app] || ""; });
  document.querySelectorAll("#view-setup .testsend").forEach(function (button) {
    button.onclick = function () {
      var user = button.parentNode.querySelector(".testuser").value;
      var out = button.parentNode.querySelector(".testresult");
      button.disabled = true;
      api("/api/test-message", { app: button.dataset.app, user: user }).then(function (answer) {
        out.textContent = t("testQueued", { id: answer.id });
        testItems[button.dataset.app] = { id: answer.id, user: user };
        followTest(button.dataset.app);
      }, function (error) { out.textContent = t("failed", { error: error.message }); })
        .then(function () { button.disabled = false; });
    };
  });
  $("generate").onclick = function () {
    api("/api/keys").then(function (keys) { generated = keys; showGenerated(); });
  };
  showGenerated();
}

function showGenerated() {
  if (!generated || !$("generated")) return;
  $("generated").innerHTML = '<div class="kv" style="margin-top:12px">' + field("Token", generated.token, true) +
    field("EncodingAESKey", generated.encodingAesKey, true) + '</div><p class="sub">' + esc(t("genNote")) +
    '</p><div class="row">.env ' + copyButton(generated.env.join("\n")) + '</div><pre class="lines mono">' +
    esc(generated.env.join("\n")) + '</pre><div class="row">config.yaml (platforms.wecom_callback.extra.apps) ' +
    copyButton(generated.yaml.join("\n")) + '</div><pre class="lines mono">' + esc(generated.yaml.join("\n")) + "</pre>";
}

function followTest(appName) {
  var test = testItems[appName];
  if (!test) return;
  api("/api/outbox/" + encodeURIComponent(test.id)).then(function (item) {
    var out = document.querySelector('.testresult[data-app="' + appName + '"]');
    if (!out) return;
    if (item.state === "sent") { out.textContent = t("testSent", { user: test.user }); delete testItems[appName]; return; }
    if (item.state === "dead") { out.textContent = t("testDead", { error: item.lastError || "" }); delete testItems[appName]; return; }
    out.textContent = t("testPending", { attempts: item.attempts, error: item.lastError ? ": " + item.lastError : "" });
    setTimeout(function () { followTest(appName); }, 1000);
  }, function () { setTimeout(function () { followTest(appName); }, 2000); });
}

function table(headers, rows, empty) {
  if (rows.length === 0) return '<div class="empty">' + esc(empty) + "</div>";
  return "<table><thead><tr>" + headers.map(function (h) { return "<th>" + esc(h) + "</th>"; }).join("") +
    "</tr></thead><tbody>" + rows.join("") + "</tbody></table>";
}

function renderHealth(data) {
  var html = '<div class="card"><h2>' + esc(t("storeTitle")) + "</h2>" + esc(t("storeText", {
    queued: data.store.jobs.queued, running: data.store.jobs.running, dead: data.store.jobs.dead,
    pending: data.store.outbox.pending, deadLetters: data.store.deadLetters,
  })) + "</div>";
  html += '<div class="card"><h2>' + esc(t("agentTitle")) + ' <span class="sub">' + esc(data.agent) +
    '</span></h2><div id="agentprobe">' + (agentProbe ? agentText(agentProbe) : esc(t("agentChecking"))) +
    '</div><div class="row"><button class="act" id="recheck">' + esc(t("recheck")) + "</button></div></div>";
  data.apps.forEach(function (app) {
    var token = app.accessToken
      ? (app.accessToken.valid ? t("tokenValid", { time: stamp(app.accessToken.expiresAt) }) : t("tokenExpired", { time: stamp(app.accessToken.expiresAt) }))
      : t("tokenNone");
    var paused = app.gettokenPaused
      ? '<span class="pill bad">' + esc(t("gettokenPaused", { time: stamp(app.gettokenPaused.until), errcode: app.gettokenPaused.errcode, message: app.gettokenPaused.message })) + "</span>"
      : '<span class="pill ok">' + esc(t("gettokenOk")) + "</span>";
    var delivery = app.delivery && !app.delivery.ok
      ? '<span class="pill bad">' + esc((app.delivery.errcode !== undefined ? app.delivery.errcode + ": " : "") + app.delivery.message) + "</span>"
      : '<span class="pill ok">' + esc(app.delivery ? app.delivery.message : t("deliveryOk")) + "</span>";
    var pacing = t("pacingText", { members: app.pacing.members, held: app.pacing.atLimit.length, per: app.pacing.perMinute });
    var failures = table([t("time"), t("api"), t("errcode"), t("meaning")], app.failures.slice().reverse().map(function (f) {
      return "<tr><td>" + esc(clock(f.at)) + "</td><td>" + esc(f.api) + '</td><td class="mono">' + esc(f.errcode) +
        '</td><td class="err">' + esc(f.meaning || f.errmsg) + "</td></tr>";
    }), t("noErrors"));
    html += '<div class="card" data-health="' + esc(app.name) + '"><h2>' + esc(app.name) + '</h2><div class="kv">' +
      "<div>" + esc(t("tokenState")) + "</div><div>" + esc(token) + "</div>" +
      "<div>" + esc(t("gettoken")) + "</div><div>" + paused + "</div>" +
      "<div>" + esc(t("deliveryState")) + "</div><div>" + delivery + "</div>" +
      "<div>" + esc(t("pacing")) + "</div><div>" + esc(pacing) + "</div></div>" +
      trustedBox(app) + "<h3>" + esc(t("lastErrors")) + "</h3>" + failures + "</div>";
  });
  $("view-health").innerHTML = html;
  $("recheck").onclick = probeAgent;
}

var agentProbe = null;
function agentText(probe) {
  return '<span class="pill ' + (probe.ok ? "ok" : "bad") + '">' + esc(probe.ok ? "OK" : "FAIL") + "</span> " +
    esc(probe.detail) + ' <span class="sub">(' + esc(probe.ms) + " ms)</span>";
}
function probeAgent() {
  if ($("agentprobe")) $("agentprobe").textContent = t("agentChecking");
  api("/api/agent").then(function (probe) {
    agentProbe = probe;
    if ($("agentprobe")) $("agentprobe").innerHTML = agentText(probe);
  }, function () {});
}

function jobRow(job) {
  return "<tr><td class=\"mono\">" + esc(job.id) + '</td><td><span class="pill ' +
    (job.state === "dead" ? "bad" : job.state === "running" ? "ok" : "") + '">' + esc(job.state) + "</span></td><td>" +
    esc(job.conversation) + "</td><td>" + esc(job.app) + "</td><td>" + esc(job.type) + "</td><td>" +
    esc(age(job.receivedAt)) + "</td><td>" + esc(job.attempts) + '</td><td class="err">' + esc(job.error || "") + "</td></tr>";
}
function itemRow(item, withRetry) {
  return "<tr><td class=\"mono\">" + esc(item.id) + "</td><td>" + esc(item.conversation) + "</td><td>" + esc(item.app) +
    "</td><td>" + esc(item.purpose) + "</td><td>" + esc(item.attempts) + "</td><td>" + esc(age(item.createdAt)) +
    '</td><td class="err">' + esc(item.lastError || "") + "</td>" +
    (withRetry ? '<td><button class="act retry" data-id="' + esc(item.id) + '">' + esc(t("retry")) + "</button></td>" : "") + "</tr>";
}
function renderWork(data) {
  var jobHeads = [t("id"), t("state"), t("conversation"), t("app"), t("type"), t("age"), t("attempts"), t("error")];
  var itemHeads = [t("id"), t("conversation"), t("app"), t("purpose"), t("attempts"), t("age"), t("lastError")];
  var html = '<div class="card"><h2>' + esc(t("deadTitle")) + (data.deadLetters.length > 0
    ? ' <button class="act primary" id="retryall">' + esc(t("retryAll")) + "</button>" : "") + "</h2>" +
    table(itemHeads.concat([""]), data.deadLetters.map(function (item) { return itemRow(item, true); }), t("noDead")) + "</div>";
  html += '<div class="card"><h2>' + esc(t("jobsTitle")) + "</h2>" + table(jobHeads, data.jobs.map(jobRow), t("noJobs")) + "</div>";
  html += '<div class="card"><h2>' + esc(t("outboxTitle")) + "</h2>" +
    table(itemHeads, data.outbox.map(function (item) { return itemRow(item, false); }), t("noOutbox")) + "</div>";
  html += '<div class="card"><h2>' + esc(t("convTitle")) + '</h2><div class="row"><input type="text" id="conv" placeholder="' +
    esc(t("convPlaceholder")) + '" value="' + esc(conversationShown) + '"><button class="act" id="convgo">' + esc(t("show")) +
    '</button></div><div id="convout"></div></div>';
  $("view-work").innerHTML = html;
  document.querySelectorAll("#view-work .retry").forEach(function (button) {
    button.onclick = function () { retry({ ids: [button.dataset.id] }); };
  });
  if ($("retryall")) $("retryall").onclick = function () { retry({ all: true }); };
  $("convgo").onclick = function () { conversationShown = $("conv").value.trim(); showConversation(); };
  if (conversationShown) showConversation();
}
function showConversation() {
  api("/api/work?conversation=" + encodeURIComponent(conversationShown)).then(function (data) {
    var jobHeads = [t("id"), t("state"), t("conversation"), t("app"), t("type"), t("age"), t("attempts"), t("error")];
    var itemHeads = [t("id"), t("conversation"), t("app"), t("purpose"), t("attempts"), t("age"), t("lastError")];
    $("convout").innerHTML = "<h3>" + esc(t("jobsTitle")) + "</h3>" + table(jobHeads, data.jobs.map(jobRow), t("noJobs")) +
      "<h3>" + esc(t("outboxTitle")) + "</h3>" + table(itemHeads, data.outbox.map(function (item) { return itemRow(item, false); }), t("noOutbox"));
  }, function (error) { $("convout").textContent = t("failed", { error: error.message }); });
}
function retry(body) {
  api("/api/retry", body).then(function (answer) {
    var ok = answer.results.filter(function (r) { return r.ok; });
    var bad = answer.results.filter(function (r) { return !r.ok; });
    toast(ok.length > 0 ? t("retried", { id: ok.map(function (r) { return r.newId; }).join(", ") }) : t("failed", { error: bad.length ? bad[0].error : "" }));
    refresh();
  }, function (error) { toast(t("failed", { error: error.message })); });
}

var COLORS = ["#1f6feb", "#e8590c", "#12805c", "#b42318", "#7048e8", "#0b7285", "#c2255c"];
function niceMax(value) {
  if (!(value > 0)) return 1;
  var power = Math.pow(10, Math.floor(Math.log10(value)));
  var steps = [1, 2, 4, 8, 10];
  for (var i = 0; i < steps.length; i++) if (steps[i] * power >= value) return steps[i] * power;
  return 10 * power;
}
function fmt(value) {
  if (value === 0) return "0";
  if (Math.abs(value) >= 100) return String(Math.round(value));
  if (Math.abs(value) >= 1) return String(Math.round(value * 10) / 10);
  return String(Math.round(value * 100) / 100);
}
// series: [{name, values: [[at, y|null], ...]}]
function lineChart(title, series, from, to, key) {
  var W = 560, H = 220, L = 46, R = 12, T = 12, B = 28;
  var max = 0;
  series.forEach(function (s) { s.values.forEach(function (p) { if (p[1] !== null && p[1] > max) max = p[1]; }); });
  max = niceMax(max);
  var x = function (at) { return L + (W - L - R) * (to === from ? 1 : (at - from) / (to - from)); };
  var y = function (v) { return T + (H - T - B) * (1 - v / max); };
  var svg = '<svg viewBox="0 0 ' + W + " " + H + '" role="img" aria-label="' + esc(title) + '">';
  for (var g = 0; g <= 4; g++) {
    var gv = max * g / 4;
    svg += '<line x1="' + L + '" x2="' + (W - R) + '" y1="' + y(gv) + '" y2="' + y(gv) + '" stroke="#e3e6ec"/>' +
      '<text x="' + (L - 6) + '" y="' + (y(gv) + 4) + '" font-size="11" text-anchor="end" fill="#667085">' + esc(fmt(gv)) + "</text>";
  }
  for (var m = 0; m <= 4; m++) {
    var at = from + (to - from) * m / 4;
    var anchor = m === 0 ? "start" : m === 4 ? "end" : "middle";
    svg += '<text x="' + x(at) + '" y="' + (H - 8) + '" font-size="11" text-anchor="' + anchor + '" fill="#667085">' +
      esc(new Date(at).toTimeString().slice(0, to - from < 600000 ? 8 : 5)) + "</text>";
  }
  var points = 0;
  series.forEach(function (s, i) {
    var color = COLORS[i % COLORS.length];
    var d = "";
    var pen = false;
    s.values.forEach(function (p) {
      if (p[1] === null) { pen = false; return; }
      d += (pen ? "L" : "M") + x(p[0]).toFixed(1) + " " + y(p[1]).toFixed(1) + " ";
      pen = true;
      points++;
    });
    if (d) svg += '<path d="' + d + '" fill="none" stroke="' + color + '" stroke-width="2" stroke-linejoin="round" data-series="' + esc(s.name) + '"/>';
    if (s.values.filter(function (p) { return p[1] !== null; }).length === 1) {
      var only = s.values.filter(function (p) { return p[1] !== null; })[0];
      svg += '<circle cx="' + x(only[0]) + '" cy="' + y(only[1]) + '" r="3" fill="' + color + '"/>';
    }
  });
  svg += "</svg>";
  var legend = '<div class="legend">' + series.map(function (s, i) {
    return '<span><i style="background:' + COLORS[i % COLORS.length] + '"></i>' + esc(s.name) + "</span>";
  }).join("") + "</div>";
  return '<div class="card chart" data-chart="' + esc(key) + '" data-points="' + points + '"><h2>' + esc(title) + "</h2>" +
    (points === 0 ? '<div class="empty">' + esc(t("noData", { seconds: sampleSeconds })) + "</div>" : "") + svg + legend + "</div>";
}
function renderCharts(data) {
  sampleSeconds = Math.round(data.sampleMs / 1000 * 10) / 10;
  var pts = data.points;
  var to = pts.length ? pts[pts.length - 1].at : Date.now();
  var from = pts.length > 1 ? pts[0].at : to - 60000;
  var pick = function (name) { return pts.map(function (p) { return [p.at, p[name]]; }); };
  var codes = {};
  pts.forEach(function (p) { Object.keys(p.sendErrors).forEach(function (c) { codes[c] = true; }); });
  var errorSeries = Object.keys(codes).sort().map(function (code) {
    return { name: code, values: pts.map(function (p) { return [p.at, p.sendErrors[code] || 0]; }) };
  });
  $("view-charts").innerHTML = '<p class="sub">' + esc(t("chartsNote", { seconds: sampleSeconds })) + '</p><div class="charts">' +
    lineChart(t("chartAck"), [{ name: t("mean"), values: pick("ackMeanMs") }, { name: t("p95"), values: pick("ackP95Ms") }], from, to, "ack") +
    lineChart(t("chartCallbacks"), [{ name: "callbacks/s", values: pick("callbacksPerSecond") }], from, to, "callbacks") +
    lineChart(t("chartQueue"), [{ name: t("queued"), values: pick("queued") }, { name: t("running"), values: pick("running") }], from, to, "queue") +
    lineChart(t("chartErrors"), errorSeries, from, to, "errors") +
    lineChart(t("chartAgent"), [{ name: t("mean"), values: pick("agentMeanSeconds") }], from, to, "agent") + "</div>";
}

function renderLog(data) {
  var rows = data.lines.map(function (line) {
    var fields = Object.keys(line.fields).map(function (k) {
      var v = line.fields[k];
      return k + "=" + (typeof v === "string" ? v : JSON.stringify(v));
    }).join(" ");
    return "<tr><td>" + esc(stamp(Date.parse(line.time))) + '</td><td><span class="pill ' + (line.level === "error" ? "bad" : "warn") +
      '">' + esc(line.level) + "</span></td><td>" + esc(line.msg) + ' <span class="sub mono">' + esc(fields) + "</span></td></tr>";
  });
  $("view-log").innerHTML = '<div class="card log"><h2>' + esc(t("logTitle")) + "</h2>" +
    table([t("time"), "", ""], rows, t("noLog")) + "</div>";
}

var loading = false;
function refresh() {
  if (loading) return;
  loading = true;
  var done = function () { loading = false; $("updated").textContent = t("updated", { time: clock(Date.now()) }); };
  var work;
  if (view === "setup" || view === "health") {
    work = api("/api/overview").then(function (data) { if (view === "setup") renderSetup(data); else renderHealth(data); });
  } else if (view === "work") {
    work = api("/api/work").then(renderWork);
  } else if (view === "charts") {
    work = api("/api/history").then(renderCharts);
  } else {
    work = api("/api/log").then(renderLog);
  }
  work.then(done, function () { loading = false; });
}
function show(name) {
  if (["setup", "health", "work", "charts", "log"].indexOf(name) < 0) name = "setup";
  view = name;
  history.replaceState(null, "", "#" + name);
  document.querySelectorAll("nav button").forEach(function (b) { b.className = b.dataset.view === name ? "on" : ""; });
  document.querySelectorAll("section.view").forEach(function (s) { s.className = "view" + (s.id === "view-" + name ? " on" : ""); });
  if (name === "health" && !agentProbe) probeAgent();
  refresh();
}
function applyLanguage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  $("title").textContent = t("title");
  $("langbtn").textContent = t("lang");
  document.querySelectorAll("nav button").forEach(function (b) { b.textContent = t(b.dataset.tab); });
}
document.querySelectorAll("nav button").forEach(function (b) { b.onclick = function () { show(b.dataset.view); }; });
$("langbtn").onclick = function () {
  lang = lang === "zh" ? "en" : "zh";
  localStorage.setItem("lang", lang);
  applyLanguage();
  refresh();
};
applyLanguage();
show(view);
setInterval(function () {
  // The work view holds inputs and buttons: refresh it only on demand and after actions.
  if (view !== "work" || !document.activeElement || document.activeElement.tagName !== "INPUT") refresh();
}, 2000);
`;

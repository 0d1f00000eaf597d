/**
 * The operator console in a real browser: Debian's Chromium driven by
 * puppeteer-core, against a gateway and the simulated WeCom.
 *
 * Covers the setup flow end to end (a verification GET with a wrong Token
 * shows the token diagnosis, the right one turns the status green, a test
 * message reaches the member), a dead-letter retry from the Work view, the
 * charts drawn with data, the health view and the log tail, in English and
 * Chinese. Screenshots go to `data/screenshots/` for a person to look at.
 *
 * Without Chromium the tests are skipped with a message, except in CI
 * (`CI=true`), where `.ci/run` installs it and a missing browser fails.
 */

import assert from "node:assert/strict";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { verifyCallbackUrl } from "../../src/cli/url_verification.ts";
import { importAppCrypto } from "../../src/crypto/mod.ts";
import { setLogSink } from "../../src/log.ts";
import { TEST_MESSAGE_TEXT } from "../../src/operator/api.ts";
import { type OperatorWorld, startOperatorWorld } from "./operator_world.ts";
import { waitFor } from "../lib/wait.ts";

setLogSink({ format: "json", level: "error", write: () => {} });

const SHOTS = new URL("../../data/screenshots/", import.meta.url).pathname;

async function findChromium(): Promise<string | undefined> {
  const named = Deno.env.get("CHROMIUM_PATH");
  const candidates = named ? [named] : [];
  for (const dir of (Deno.env.get("PATH") ?? "").split(":").filter(Boolean)) {
    for (const name of ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]) {
      candidates.push(`${dir}/${name}`);
    }
  }
  for (const candidate of candidates) {
    try {
      if ((await Deno.stat(candidate)).isFile) return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

const chromium = await findChromium();
const inCi = Deno.env.get("CI") === "true";
if (!chromium && !inCi) {
  console.log(
    "console_browser_test: skipped, no Chromium found (apt-get install chromium " +
      "fonts-noto-cjk, or set CHROMIUM_PATH); CI installs it and runs these tests.",
  );
}

function browserTest(name: string, fn: (browser: Browser) => Promise<void>): void {
  Deno.test({
    name,
    ignore: !chromium && !inCi,
    // puppeteer keeps sockets and timers of its own between steps.
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      if (!chromium) {
        throw new Error(
          "No Chromium found in CI: .ci/run installs it with apt-get (chromium fonts-noto-cjk).",
        );
      }
      await Deno.mkdir(SHOTS, { recursive: true });
      const browser = await puppeteer.launch({
        executablePath: chromium,
        headless: true,
        args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
      });
      try {
        await fn(browser);
      } finally {
        await browser.close();
      }
    },
  });
}

/** Opens the console at `view` with the browser's language set to `language`. */
async function openConsole(
  browser: Browser,
  w: OperatorWorld,
  view: string,
  language: string,
): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1180, height: 900, deviceScaleFactor: 1 });
  await page.evaluateOnNewDocument((lang: string) => {
    Object.defineProperty(navigator, "language", { get: () => lang });
  }, language);
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  await page.goto(`${w.operatorBase}/#${view}`, { waitUntil: "load" });
  // A script error would leave the page empty: fail on it at once.
  await waitForText(page, "#updated", ":").catch((error) => {
    throw new Error(`the console did not load: ${errors.join("; ") || error}`);
  });
  assert.equal(errors.length, 0, errors.join("; "));
  return page;
}

async function text(page: Page, selector: string): Promise<string> {
  return await page.$eval(selector, (element) => (element as unknown as Shown).innerText);
}

/** What the tests read of an element in the page (the DOM types are not loaded here). */
interface Shown {
  innerText: string;
  textContent: string | null;
}

/** Waits until the element at `selector` holds `needle` in its text. */
async function waitForText(page: Page, selector: string, needle: string): Promise<void> {
  await page.waitForFunction(
    (sel: string, wanted: string) => {
      const dom = globalThis as unknown as { document: { querySelector(s: string): Shown | null } };
      return dom.document.querySelector(sel)?.textContent?.includes(wanted) ?? false;
    },
    { timeout: 10_000 },
    selector,
    needle,
  );
}

browserTest(
  "console setup: a wrong Token shows the token diagnosis, the right one turns green, a test message arrives",
  async (browser) => {
    const w = await startOperatorWorld();
    try {
      const page = await openConsole(browser, w, "setup", "en-GB");
      await page.waitForSelector('[data-app="main"] [data-verification="waiting"]');
      // The values to paste, as configured.
      const setup = await text(page, '[data-app="main"]');
      assert.ok(setup.includes(w.app.token), setup);
      assert.ok(setup.includes(w.app.encodingAesKey), setup);
      assert.ok(setup.includes(w.callbackUrl), setup);
      assert.ok(!setup.includes(w.app.corpSecret), "the corp secret is never shown");

      // WeCom's verification GET signed with another Token (the admin console holds another one).
      const wrong = await importAppCrypto(w.app.encodingAesKey, "AnotherToken123", w.app.corpId);
      const refused = await verifyCallbackUrl(wrong, w.callbackUrl);
      assert.equal(refused.ok, false);
      await page.waitForSelector('[data-app="main"] [data-verification="token"]', {
        timeout: 10_000,
      });
      assert.ok((await text(page, '[data-app="main"] .status')).includes("Token mismatch"));
      await page.screenshot({ path: `${SHOTS}setup-token-mismatch-en.png`, fullPage: true });

      // The right Token and key: the status turns green.
      const right = await importAppCrypto(w.app.encodingAesKey, w.app.token, w.app.corpId);
      const accepted = await verifyCallbackUrl(right, w.callbackUrl);
      assert.equal(accepted.ok, true, accepted.explanation);
      await page.waitForSelector('[data-app="main"] [data-verification="ok"]', { timeout: 10_000 });
      assert.ok((await text(page, '[data-app="main"] .status')).includes("Verified"));

      // A test message to a member, through the outbox like any reply.
      await page.type('[data-app="main"] .testuser', "lisi");
      await page.click('[data-app="main"] .testsend');
      await waitForText(page, ".testresult", "Delivered to lisi");
      assert.equal(w.texts("lisi")[0], TEST_MESSAGE_TEXT);

      // A fresh Token and EncodingAESKey for a new app.
      await page.click("#generate");
      await page.waitForSelector("#generated pre");
      const generated = await text(page, "#generated");
      const key = /WECOM_CALLBACK_ENCODING_AES_KEY=([A-Za-z0-9]+)/.exec(generated)?.[1] ?? "";
      assert.equal(key.length, 43, generated);
      await importAppCrypto(key, "t", "ww1"); // a valid key
      await page.screenshot({ path: `${SHOTS}setup-verified-en.png`, fullPage: true });
      await page.close();
    } finally {
      await w.close();
    }
  },
);

browserTest(
  "console in Chinese: setup verified, health with a 60020 and its IP, the log tail",
  async (browser) => {
    const w = await startOperatorWorld({ gateway: { ipBackoffBaseMs: 60_000 } });
    try {
      const right = await importAppCrypto(w.app.encodingAesKey, w.app.token, w.app.corpId);
      assert.equal((await verifyCallbackUrl(right, w.callbackUrl)).ok, true);
      const page = await openConsole(browser, w, "setup", "zh-CN");
      await page.waitForSelector('[data-app="main"] [data-verification="ok"]', { timeout: 10_000 });
      assert.ok((await text(page, "header")).includes("运维控制台"));
      assert.ok((await text(page, '[data-app="main"] .status')).includes("已验证"));
      // Only as tall as the content (the README shows this one).
      await page.setViewport({ width: 1100, height: 300, deviceScaleFactor: 1 });
      await page.screenshot({ path: `${SHOTS}setup-verified-zh.png`, fullPage: true });
      await page.setViewport({ width: 1180, height: 900, deviceScaleFactor: 1 });

      // WeCom refuses the reply from an untrusted IP and quotes the IP it saw.
      w.api.inject("send", [{
        errcode: 60020,
        errmsg: "not allow to access from your ip, hint: [x], from ip: 203.0.113.7, more info at …",
      }]);
      assert.equal(await w.text("lisi", "你好", "1"), 200);
      await page.waitForSelector('[data-trusted-ip="203.0.113.7"]', { timeout: 10_000 });
      assert.ok((await text(page, "[data-trusted-ip]")).includes("企业可信IP"));

      await page.click('nav button[data-view="health"]');
      await page.waitForSelector('[data-health="main"] td.mono', { timeout: 10_000 });
      const health = await text(page, '[data-health="main"]');
      assert.ok(health.includes("60020"), health);
      assert.ok(health.includes("203.0.113.7"), health);
      await waitForText(page, "#agentprobe", "OK");
      await page.screenshot({ path: `${SHOTS}health-zh.png`, fullPage: true });

      await page.click('nav button[data-view="log"]');
      await page.waitForSelector(".log tbody tr", { timeout: 10_000 });
      const lines = await text(page, ".log");
      assert.ok(lines.includes("60020") || lines.includes("trusted"), lines);
      assert.ok(!lines.includes(w.app.corpSecret) && !lines.includes(w.app.token));
      await page.close();
    } finally {
      await w.close();
    }
  },
);

browserTest(
  "console work: a dead letter is retried from the page and delivered; the charts draw the traffic",
  async (browser) => {
    const w = await startOperatorWorld();
    try {
      // A member WeCom does not know yet: the reply becomes a dead letter (81013 is permanent).
      w.api.inject("send", [{ errcode: 81013 }]);
      assert.equal(await w.text("wangwu", "first", "1"), 200);
      await waitFor(() => w.api.received.some((r) => r.api === "send"), "the failed send");
      const page = await openConsole(browser, w, "work", "en-US");
      await page.waitForSelector("#view-work .retry", { timeout: 10_000 });
      assert.ok((await text(page, "#view-work")).includes("81013"));
      await page.screenshot({ path: `${SHOTS}work-dead-letter-en.png`, fullPage: true });
      await page.click("#view-work .retry");
      await waitFor(() => w.texts("wangwu").length === 1, "the retried reply", 10_000);
      assert.equal(w.texts("wangwu")[0], "first");
      await waitForText(page, "#view-work", "No dead letters");

      // Traffic over a few sample intervals (100 ms each), then the charts.
      for (let i = 0; i < 12; i++) {
        assert.equal(await w.text(`u${i % 3}`, `m${i}`, String(100 + i)), 200);
        await new Promise((resolve) => setTimeout(resolve, 60));
      }
      await waitFor(() => w.texts("u0").length === 4, "the replies", 10_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await page.click('nav button[data-view="charts"]');
      for (const chart of ["ack", "callbacks", "queue", "errors", "agent"]) {
        await page.waitForSelector(`[data-chart="${chart}"] svg`, { timeout: 10_000 });
      }
      const points = await page.$$eval(
        "[data-chart]",
        (charts) =>
          Object.fromEntries(
            charts.map((
              c,
            ) => [c.getAttribute("data-chart"), Number(c.getAttribute("data-points"))]),
          ),
      );
      for (const chart of ["ack", "callbacks", "queue", "agent"]) {
        assert.ok(points[chart] > 0, `chart ${chart} has points: ${JSON.stringify(points)}`);
      }
      assert.ok(await page.$('[data-chart="callbacks"] path[data-series]'), "a drawn line");
      await page.screenshot({ path: `${SHOTS}charts-en.png`, fullPage: true });
      await page.close();
    } finally {
      await w.close();
    }
  },
);

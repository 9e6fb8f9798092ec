// live_page.js URL SCREENSHOT.png - drives Debian's chromium (headless,
// through playwright-core; no browser is ever downloaded) on rollmatd's
// live page while the virtual mat plays the live_short scenario: start from
// the page, the speed cue during the too-fast set, the hold timer past the
// profile's 20 s, the muscle group changed from the page, a screenshot.
// Exit 0 ok, 1 failure, 77 chromium cannot start (the reason is printed).
"use strict";
const { chromium } = require("playwright-core");

const [url, shot] = process.argv.slice(2);
const fail = (msg) => { console.log("FAIL: " + msg); process.exit(1); };

(async () => {
  let browser;
  try {
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true,
                                      args: ["--no-sandbox", "--disable-gpu"] });
  } catch (e) {
    console.log("SKIP: chromium cannot start: " + String(e.message).split("\n")[0]);
    process.exit(77);
  }
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  try {
    await page.goto(url);
    // Locators, not waitForFunction: the page's CSP forbids eval, as it should.
    await page.locator("#speedband", { hasText: "target" }).waitFor({ timeout: 20000 });
    console.log("ok: page loaded, bands: " + await page.textContent("#speedband"));
    await page.click("#start");
    await page.locator("#msg", { hasText: /start: ok/ }).waitFor({ timeout: 20000 });
    // The too-fast set: the cue must ask to slow down.
    await page.locator("#cue", { hasText: /^(slower|faster)$/ }).waitFor({ timeout: 60000 });
    console.log("ok: cue during the fast set: " + await page.textContent("#cue"));
    const group0 = (await page.textContent("#group")).trim();
    // The hold: the timer passes 20 s and turns to the "reached" colour.
    await page.locator("#hold", { hasText: /^(2[1-9]|[3-9][0-9]) s$/ }).waitFor({ timeout: 90000 });
    const cls = await page.getAttribute("#hold", "class");
    if (!/reached/.test(cls)) fail("hold timer past 20 s has class '" + cls + "'");
    console.log("ok: hold timer " + await page.textContent("#hold") + " (" + cls + ")");
    await page.screenshot({ path: shot });
    console.log("ok: screenshot " + shot);
    const next = (await page.textContent("#next")).replace("Next:", "").trim();
    await page.click("#next");
    await page.locator("#group", { hasText: new RegExp("^" + next + "$") }).waitFor({ timeout: 20000 });
    console.log("ok: group '" + group0 + "' -> '" + (await page.textContent("#group")).trim() + "'");
    await page.click("#stop");
    await page.locator("#msg", { hasText: /stop: ok|stopped/ }).waitFor({ timeout: 20000 });
    console.log("ok: stopped from the page");
    if (errors.length) fail("page errors: " + errors.join("; "));
  } catch (e) {
    try { await page.screenshot({ path: shot + ".fail.png" }); } catch (e2) { /* best effort */ }
    fail(String(e.message).split("\n")[0] + " (cue '" + await page.textContent("#cue").catch(() => "?") +
         "', hold '" + await page.textContent("#hold").catch(() => "?") + "')");
  } finally {
    await browser.close();
  }
})();

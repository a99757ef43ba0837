// End-to-end test of the web view of `kappa lab` (docs/lab-api.md, replay/lab/lab_web/index.html) in
// headless Chromium, driven by playwright-core with Debian's browser (/usr/bin/chromium).
//
//   node lab.spec.mjs URL [SCREENSHOT]
//
// URL is the lab's web address (or $KAPPA_LAB_URL); SCREENSHOT defaults to $KAPPA_SCREENSHOT or
// build/lab-screenshot.png. With KAPPA_SCREENSHOTS=DIR it also saves the guides' pictures there
// (lab-overview.png, lab-late-event.png, lab-recovery.png, lab-cutover.png).
//
// Steps: the v1 table fills; a late event is injected and drawn as a late row on the timeline; a
// recovery into events_users_v2 catches up; the v1/v2 difference is shown; the view is cut over
// and, after a reload, reads events_users_v2; the counts balance; no error was shown. Exit 0 only
// if every step holds.
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

const url = process.argv[2] || process.env.KAPPA_LAB_URL;
const shot = process.argv[3] || process.env.KAPPA_SCREENSHOT || "build/lab-screenshot.png";
const shotsDir = process.env.KAPPA_SCREENSHOTS || "";
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const stepTimeout = +(process.env.KAPPA_STEP_TIMEOUT_MS || 90000);
const lateSeconds = +(process.env.KAPPA_LATE_SECONDS || 30);
if (!url) {
  console.error("usage: node lab.spec.mjs URL [SCREENSHOT]   (or KAPPA_LAB_URL=...)");
  process.exit(2);
}

const t0 = Date.now();
const log = (...a) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s]`, ...a);
const testid = (id) => `[data-testid="${id}"]`;

function save(file) {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  return file;
}

let browser;
const pageErrors = [];
async function main() {
  browser = await chromium.launch({ executablePath, headless: true, args: ["--disable-gpu", "--disable-dev-shm-usage"] });
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.setDefaultTimeout(stepTimeout);
  page.on("pageerror", (e) => { pageErrors.push(e.message); console.error("page error:", e.message); });
  page.on("console", (m) => { if (m.type() === "error") console.error("page console:", m.text()); });

  const guide = async (name, locator) => {
    if (!shotsDir) return;
    const file = save(path.join(shotsDir, name));
    if (locator) await locator.screenshot({ path: file });
    else await page.screenshot({ path: file, fullPage: true });
    log(`saved ${file}`);
  };

  log(`open ${url}`);
  await page.goto(url, { waitUntil: "domcontentloaded" });
  await page.waitForFunction(() => /\S/.test(document.querySelector('[data-testid="view-target"]').textContent)
    && document.querySelector('[data-testid="view-target"]').textContent !== "—");
  log(`view target: ${await page.textContent(testid("view-target"))}`);

  // 1. The v1 table fills.
  log("wait for rows in events_users_v1");
  await page.waitForSelector(`${testid("table-events_users_v1")} tbody tr[data-testid="row"]`, { state: "attached" });
  const v1rows = await page.locator(`${testid("table-events_users_v1")} tbody tr[data-testid="row"]`).count();
  log(`events_users_v1 shows ${v1rows} rows`);
  // let the timeline draw a few batches for the overview picture
  await page.waitForFunction(() => document.querySelectorAll("#timeline-svg circle.ontime").length >= 3);
  await guide("lab-overview.png");

  // 2. A late event: injected, then drawn as a late row on the timeline.
  const lateBefore = await page.locator(`${testid("timeline")} [data-testid="late-point"]`).count();
  await page.fill(testid("seconds-late"), String(lateSeconds));
  await page.click(testid("btn-inject-late"));
  const injected = await page.waitForSelector(`${testid("message-ok")}:has-text("Injected late event")`);
  const idMatch = /id (\d+)/.exec(await injected.textContent());
  if (!idMatch) throw new Error("the injection message names no id");
  const lateId = idMatch[1];
  log(`injected late event id ${lateId}`);
  log("wait for it on the timeline as a late row");
  await page.waitForSelector(`${testid("timeline")} [data-testid="late-point"][data-id="${lateId}"]`, { state: "attached" });
  const lateAfter = await page.locator(`${testid("timeline")} [data-testid="late-point"]`).count();
  if (lateAfter <= lateBefore) throw new Error(`late rows on the timeline did not grow (${lateBefore} -> ${lateAfter})`);
  // It must be below the watermark line at its processing time: check on the drawing itself.
  const below = await page.evaluate((id) => {
    const x = document.querySelector(`#timeline-svg [data-testid="late-point"][data-id="${id}"]`);
    const wm = document.querySelector('#timeline-svg [data-testid="watermark-events_users_v1"]');
    if (!x || !wm) return { ok: false, why: "late point or v1 watermark line missing" };
    const b = x.getBBox();
    const cx = b.x + b.width / 2, cy = b.y + b.height / 2;
    // the step path's y at cx: take the last vertex at or left of cx
    const segs = wm.getAttribute("d").match(/[ML]\s*[-\d.]+\s+[-\d.]+/g).map((s) => s.slice(1).trim().split(/\s+/).map(Number));
    let y = null;
    for (const [px, py] of segs) if (px <= cx + 0.5) y = py;
    if (y === null) return { ok: false, why: "no watermark at the late row's processing time" };
    return { ok: cy > y, why: `late row at y=${cy.toFixed(1)}, watermark at y=${y.toFixed(1)} (svg y grows downwards)` };
  }, lateId);
  log(`late row against the watermark: ${below.why}`);
  if (!below.ok) throw new Error(`the late row is not drawn below the watermark: ${below.why}`);
  const lateJobs = await page.evaluate(() => Number(document.querySelector('[data-testid="job-late-events_users_v1"]').textContent.replace(/,/g, "")));
  if (!(lateJobs >= 1)) throw new Error(`the v1 job shows ${lateJobs} late rows, expected at least 1`);
  await guide("lab-late-event.png", page.locator("#sec-timeline"));

  // 3. A recovery into v2 (defaults: events_users_v2, 10s window, 1m watermark) that catches up.
  const recTable = await page.inputValue(testid("recover-table"));
  if (recTable !== "events_users_v2") throw new Error(`recovery table default is ${recTable}`);
  await page.click(testid("btn-recover"));
  await page.waitForSelector(`${testid("message-ok")}:has-text("Recovery events_users_v2 started")`);
  log("recovery started; wait for its progress bar");
  await page.waitForSelector(testid("progress-events_users_v2"), { state: "attached" });
  if (shotsDir) {  // for the picture, a bar part-way if the replay is slow enough to catch one
    await page.waitForFunction(() => {
      const p = document.querySelector('[data-testid="progress-events_users_v2"]');
      return p && Number(p.dataset.behind) > 0 && p.querySelector(".bar > div").style.width !== "0.0%";
    }, null, { timeout: 10000 }).catch(() => {});
  }
  await guide("lab-recovery.png", page.locator("#sec-jobs"));
  log("wait for events_users_v2 to catch up");
  await page.waitForSelector(`${testid("job-state-events_users_v2")}:text-is("caught_up")`);
  await page.waitForSelector(`${testid("table-events_users_v2")} tbody tr[data-testid="row"]`, { state: "attached" });
  log(`caught up: ${await page.textContent(testid("progress-events_users_v2"))}`);

  if (shotsDir) {  // for the pictures, let v2 (1m watermark) close a few more windows
    await page.waitForFunction(() => Number(document.querySelector('#table-panels [data-table="events_users_v2"]').dataset.totalRows) >= 30,
      null, { timeout: 120000 }).catch(() => {});
  }

  // 4. The v1/v2 difference.
  await page.selectOption(testid("diff-a"), "events_users_v1");
  await page.selectOption(testid("diff-b"), "events_users_v2");
  await page.click(testid("btn-diff"));
  await page.waitForSelector(`${testid("diff-result")} ${testid("diff-same")}`);
  const diff = await page.evaluate(() => ["diff-same", "diff-changed", "diff-only-a", "diff-only-b"].map(
    (id) => `${id.slice(5)} ${document.querySelector(`[data-testid="${id}"]`).textContent}`).join(", "));
  log(`diff v1/v2: ${diff}`);

  // 5. Cut over to v2; the view reads v2, also after a reload (from the lab, not the page's memory).
  await page.click(testid("btn-cutover-v2"));
  await page.waitForSelector(`${testid("view-target")}:text-is("events_users_v2")`);
  await page.waitForSelector(`${testid("message-ok")}:has-text("now reads events_users_v2")`);
  await page.reload({ waitUntil: "domcontentloaded" });
  await page.waitForSelector(`${testid("view-target")}:text-is("events_users_v2")`);
  await page.waitForSelector(`${testid("table-events_users_v2")} tbody tr[data-testid="row"]`, { state: "attached" });
  await page.click(testid("tab-events_users_v2"));
  await page.waitForSelector(`${testid("tab-events_users_v2")} .badge`);
  log(`view target after reload: ${await page.textContent(testid("view-target"))}`);

  // 6. Counts balance, and nothing went wrong on the way.
  await page.waitForSelector(`${testid("counts-balanced")}[data-balanced="true"]`, { timeout: 15000 });
  log(`counts: ${await page.textContent(testid("counts-eq1"))} | ${await page.textContent(testid("counts-eq2"))}`);
  await page.waitForTimeout(2500);  // a couple more polls, so that late errors show
  const errors = await page.locator(testid("message-error")).allTextContents();
  await guide("lab-cutover.png");
  await page.screenshot({ path: save(shot), fullPage: true });
  log(`saved ${shot}`);
  if (errors.length) throw new Error(`the page showed errors:\n  ${errors.join("\n  ")}`);
  if (pageErrors.length) throw new Error(`the page threw:\n  ${pageErrors.join("\n  ")}`);
}

try {
  await main();
  log("PASS");
  await browser.close();
  process.exit(0);
} catch (e) {
  console.error(`FAIL: ${e.message}`);
  if (browser) {
    try {
      const [ctx] = browser.contexts();
      const [page] = ctx ? ctx.pages() : [];
      if (page) {
        const file = save(shot.replace(/\.png$/, "") + "-failure.png");
        await page.screenshot({ path: file, fullPage: true });
        console.error(`failure screenshot: ${file}`);
        const msgs = await page.locator('[data-testid="messages"] .msg').allTextContents();
        if (msgs.length) console.error("messages on the page:\n  " + msgs.join("\n  "));
      }
    } catch (_) { /* best effort */ }
    await browser.close().catch(() => {});
  }
  process.exit(1);
}

/**
 * The dashboard (SPEC §8.4) in a real Chromium against a real sync service over two PostgreSQL
 * databases: a refused token, idle, a run whose progress bars reach 100 %, the history, a manual
 * conflict resolved side by side, the configuration edited (a bad value shows every problem),
 * and the error state when the API goes down. Takes the screenshot docs/dashboard.png when
 * SYNCHUB_UPDATE_SCREENSHOT=1 (else into a temporary directory).
 */
// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { dashboardHandler } from "../services/dashboard/server.ts";
import { freePort } from "../tools/servers/process.ts";
import { browserUnavailable, launchBrowser } from "./support/browser.ts";
import { startControl, TOKEN } from "./support/sync_control.ts";

const missing = await browserUnavailable();
if (missing) {
  console.error(`\n!! IGNORED: the dashboard browser tests need Chromium: ${missing}\n`);
}

Deno.test({
  name:
    "dashboard in Chromium: token, idle, run to 100 %, history, conflict resolved, config edited, API down",
  ignore: missing !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dashPort = freePort();
    const origin = `http://127.0.0.1:${dashPort}`;
    const h = await startControl({
      setup: {
        local:
          `CREATE TABLE orders (id int PRIMARY KEY, item text, qty int, updated_at timestamptz NOT NULL DEFAULT now());
          INSERT INTO orders (id, item, qty) SELECT g, 'item ' || g, g % 7 FROM generate_series(1, 400) g;
          CREATE TABLE notes (id int PRIMARY KEY, title text, body text);
          INSERT INTO notes VALUES (1, 'Shopping', 'milk, eggs'), (2, 'Same', 'same')`,
        cloud:
          `CREATE TABLE orders (id int PRIMARY KEY, item text, qty int, updated_at timestamptz NOT NULL DEFAULT now());
          CREATE TABLE notes (id int PRIMARY KEY, title text, body text);
          INSERT INTO notes VALUES (1, 'Shopping', 'milk, eggs, bread'), (2, 'Same', 'same')`,
      },
      sync: `  mode: bidirectional
  batch_size: 10
  tables:
    - { name: orders, timestamp_column: updated_at }
    - { name: notes, conflict_resolution: manual }`,
      corsOrigins: [origin],
      seedStore: true,
    });
    const dashboard = Deno.serve(
      { hostname: "127.0.0.1", port: dashPort, onListen: () => {} },
      await dashboardHandler({ apiUrl: h.service.url, apiToken: undefined }),
    );
    const launched = await launchBrowser();
    try {
      const context = await launched.browser.newContext({ viewport: { width: 1360, height: 900 } });
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (e) => pageErrors.push(e.message));
      await page.goto(origin);

      // No SYNC_API_TOKEN: the page asks; a wrong token is refused and said so.
      await page.locator("#token-form").waitFor();
      await page.fill("#token-input", "not-the-token");
      await page.click("#token-form button");
      await waitText(page, "#banner", /refused \(401\)/);
      assert.equal(await page.isVisible("#token-form"), true);

      await page.fill("#token-input", TOKEN);
      await page.click("#token-form button");
      await page.locator("#main").waitFor();
      assert.equal(await page.isHidden("#token-form"), true);
      await waitText(page, "#state", /^Idle$/);
      assert.equal(await page.getAttribute("#state", "data-state"), "idle");
      assert.equal(await page.isHidden("#banner"), true);
      assert.match(await page.textContent("#history tbody") ?? "", /No runs yet/);

      // Every percent the bars show is recorded, to see them move, not only end at 100.
      // (Code run in the page uses `page()`: this module is type-checked without the DOM. It is
      // passed as functions, not text, so the page's CSP — no eval — stays on.)
      await page.evaluate(() => {
        const g = globalThis as any;
        g.seen = [];
        new g.MutationObserver((records: any[]) => {
          for (const r of records) {
            for (const n of r.addedNodes) {
              const bar = n.querySelector?.("[role=progressbar]");
              if (bar && n.dataset?.table) {
                g.seen.push(`${n.dataset.table}:${bar.getAttribute("aria-valuenow")}`);
              }
            }
          }
        }).observe(g.document.getElementById("progress"), { childList: true, subtree: true });
      });
      await page.click("#start");
      await page.waitForFunction(() => {
        const rows = [...(globalThis as any).document.querySelectorAll("#progress .progress-row")];
        return rows.length === 2 &&
          rows.every((r) =>
            r.querySelector("[role=progressbar]").getAttribute("aria-valuenow") === "100"
          );
      });
      await page.waitForFunction(() =>
        (globalThis as any).document.getElementById("state").dataset.state === "completed"
      );
      const seen: string[] = await page.evaluate(() =>
        (globalThis as unknown as { seen: string[] }).seen
      );
      const orders = seen.filter((s) => s.startsWith("orders:")).map((s) =>
        Number(s.split(":")[1])
      );
      assert.ok(
        orders.some((p) => p > 0 && p < 100),
        `intermediate progress seen: ${orders.join(",")}`,
      );
      assert.equal(orders.at(-1), 100);
      assert.match(
        await page.textContent('#progress [data-table="orders"] .text') ?? "",
        /800 \/ 800 rows · 100 %/,
      );
      await waitText(page, "#history tbody tr:first-child .status", /^completed$/);
      await waitText(page, '#tables tr[data-table="orders"]', /ok/);

      // The manual conflict, both versions side by side, the differing column marked.
      const card = page.locator('#conflicts .conflict[data-table="notes"]');
      await card.waitFor();
      assert.equal(await page.textContent("#conflict-count"), "1");
      assert.equal(await card.locator("td.diff.local").textContent(), "milk, eggs");
      assert.equal(await card.locator("td.diff.cloud").textContent(), "milk, eggs, bread");
      assert.equal(await card.locator("td.diff").count(), 2, "only the body differs");
      const shot = Deno.env.get("SYNCHUB_UPDATE_SCREENSHOT") === "1"
        ? new URL("../docs/dashboard.png", import.meta.url).pathname
        : `${h.dir}/dashboard.png`;
      await Deno.mkdir(shot.slice(0, shot.lastIndexOf("/")), { recursive: true });
      await page.screenshot({ path: shot, fullPage: true });
      const png = await Deno.readFile(shot);
      assert.deepEqual([...png.slice(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"

      await card.locator('button[data-resolve="cloud"]').click();
      await page.waitForFunction(() =>
        !(globalThis as any).document.querySelector("#conflicts .conflict")
      );
      assert.match(await page.textContent("#conflicts") ?? "", /No unresolved conflicts/);
      for (const side of [h.local, h.cloud]) {
        assert.deepEqual(await side.sql("SELECT body FROM notes WHERE id = 1"), [{
          body: "milk, eggs, bread",
        }]);
      }

      // The configuration: a bad edit lists every problem and changes nothing; a good one saves.
      const before = await Deno.readTextFile(h.path);
      const shown = JSON.parse(await page.inputValue("#config-text"));
      assert.equal(shown.server.auth_token, "***");
      await page.fill(
        "#config-text",
        JSON.stringify(
          { ...shown, sync: { ...shown.sync, mode: "sideways", batch_size: 0 } },
          null,
          2,
        ),
      );
      await page.click("#config-save");
      await page.locator("#config-errors li").first().waitFor();
      const problems = await page.locator("#config-errors li").allTextContents();
      assert.ok(problems.some((p) => p.startsWith("sync.mode:")), problems.join("\n"));
      assert.ok(problems.some((p) => p.startsWith("sync.batch_size:")), problems.join("\n"));
      assert.equal(await Deno.readTextFile(h.path), before);
      await page.fill(
        "#config-text",
        JSON.stringify({ ...shown, sync: { ...shown.sync, batch_size: 50 } }, null, 2),
      );
      await page.click("#config-save");
      await waitText(page, "#config-message", /Saved and applied/);
      assert.equal(await page.isHidden("#config-errors"), true);
      assert.match(await Deno.readTextFile(h.path), /batch_size: 50/);

      // The API goes away: the page says so.
      await h.stopService();
      await waitText(page, "#banner", /cannot be reached/);
      assert.equal(await page.textContent("#state"), "Error");
      assert.equal(await page.isDisabled("#start"), true);
      assert.deepEqual(pageErrors, []);
    } finally {
      await launched.close();
      await dashboard.shutdown();
      await h.close();
    }
  },
});

async function waitText(page: Page, selector: string, pattern: RegExp): Promise<void> {
  await page.waitForFunction(
    ({ selector, source, flags }) => {
      const el = (globalThis as any).document.querySelector(selector);
      return el !== null && new RegExp(source, flags).test(el.textContent.trim());
    },
    { selector, source: pattern.source, flags: pattern.flags },
    { timeout: 15_000 },
  ).catch(async (err) => {
    const text = await page.textContent(selector).catch(() => null);
    throw new Error(
      `${selector} never matched ${pattern}; it shows ${JSON.stringify(text)}: ${err.message}`,
    );
  });
}

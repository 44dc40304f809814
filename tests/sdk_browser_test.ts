/**
 * The SDK in real Chromium: the storage contract on IndexedDB, and the demo app as two users'
 * devices would run it — converging, editing offline across a reload, and rolling back a
 * conflicting edit where the user can see it.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { browserUnavailable, launchBrowser } from "./support/browser.ts";
import { startStack } from "./support/stack.ts";
import { TcpProxy } from "./support/tcp_proxy.ts";

const unavailable = await browserUnavailable();
if (unavailable) {
  console.error(`\n!! SKIPPING the browser tests (sdk_browser_test.ts): ${unavailable}\n`);
}
const opts = { sanitizeOps: false, sanitizeResources: false, ignore: unavailable !== undefined };

async function bundle(entry: string): Promise<string> {
  const out = await Deno.makeTempFile({ suffix: ".js" });
  try {
    const { success, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform=browser", "--format=esm", "-o", out, entry],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!success) throw new Error(new TextDecoder().decode(stderr));
    return await Deno.readTextFile(out);
  } finally {
    await Deno.remove(out).catch(() => {});
  }
}

Deno.test({ name: "browser: the storage contract on IndexedDB", ...opts }, async () => {
  const stack = await startStack();
  const chromium = await launchBrowser();
  try {
    const code = await bundle(
      new URL("./support/storage_contract_browser.ts", import.meta.url).pathname,
    );
    const { page } = await chromium.page();
    await page.goto(`${stack.crud.url}/health`); // an origin for IndexedDB
    const results = await page.evaluate(async (source) => {
      const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
      const mod = await import(url);
      return await mod.runContract();
    }, code) as { name: string; error?: string }[];
    assert.ok(results.length >= 5);
    for (const r of results) assert.equal(r.error, undefined, `${r.name}: ${r.error}`);
  } finally {
    await chromium.close();
    await stack.close();
  }
});

const titles = (page: Page) =>
  page.locator('[data-testid="item"] [data-testid="title"]').allTextContents();

async function waitTitles(page: Page, expected: string[], what: string): Promise<void> {
  try {
    const want = JSON.stringify([...expected].sort());
    await page.waitForFunction(
      `JSON.stringify([...document.querySelectorAll('[data-testid="item"] [data-testid="title"]')]
        .map((e) => e.textContent).sort()) === ${JSON.stringify(want)}`,
      null,
      { timeout: 30_000 },
    );
  } catch {
    throw new Error(
      `${what}: expected ${JSON.stringify(expected)}, have ${JSON.stringify(await titles(page))}`,
    );
  }
}

const text = (page: Page, id: string) =>
  page.locator(`[data-testid="${id}"]`).first().textContent();

function item(page: Page, title: string) {
  return page.locator('[data-testid="item"]', { has: page.locator(`text="${title}"`) });
}

async function editTitle(page: Page, from: string, to: string): Promise<void> {
  await item(page, from).locator('[data-testid="title"]').click();
  const input = page.locator('[data-testid="edit-input"]');
  await input.fill(to);
  await input.press("Enter");
}

Deno.test({
  name: "browser: the demo converges, works offline across a reload, rolls back visibly",
  ...opts,
}, async () => {
  const stack = await startStack({ env: { PASSWORD_HASH_ITERATIONS: "1000" } });
  const chromium = await launchBrowser();
  const proxies: TcpProxy[] = [];
  try {
    const email = `demo-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const register = await fetch(`${stack.crud.url}/v1/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: "correct horse battery" }),
    });
    assert.equal(register.status, 201);
    await register.body?.cancel();
    const crud = new URL(stack.crud.url), gateway = new URL(stack.gateway.url);

    // Each device reaches the hub through proxies of its own (its origin is the REST proxy's), so
    // "offline" is a real network failure for that device alone — page loads included.
    const open = async () => {
      const rest = new TcpProxy({ hostname: crud.hostname, port: Number(crud.port) });
      const ws = new TcpProxy({ hostname: gateway.hostname, port: Number(gateway.port) });
      proxies.push(rest, ws);
      const { context, page } = await chromium.page();
      page.on("pageerror", (err) => console.error("page error:", err.message));
      await page.goto(
        `${rest.url}/demo/?ws=${encodeURIComponent(`ws://127.0.0.1:${ws.port}/v1/ws`)}`,
      );
      await page.fill('input[name="email"]', email);
      await page.fill('input[name="password"]', "correct horse battery");
      await page.click('button[type="submit"]');
      await page.waitForSelector('[data-testid="status"].online');
      // The service worker has cached the app once it controls the page.
      await page.waitForFunction("navigator.serviceWorker.controller !== null", null, {
        timeout: 30_000,
      });
      const offline = (down: boolean) => {
        rest.setDown(down);
        ws.setDown(down);
      };
      return { context, page, offline };
    };
    const a = await open();
    const b = await open();

    // Two devices converge.
    await a.page.fill('[data-testid="new-title"]', "milk");
    await a.page.click('[data-testid="add"]');
    await waitTitles(a.page, ["milk"], "a shows its insert at once");
    await waitTitles(b.page, ["milk"], "b receives it");
    await item(b.page, "milk").locator('[data-testid="toggle"]').check();
    await a.page.waitForFunction(
      `document.querySelector('[data-testid="toggle"]')?.checked === true`,
    );

    // A goes offline, edits, reloads while offline: its edits survive and are still pending.
    a.offline(true);
    await editTitle(a.page, "milk", "oat milk");
    await a.page.fill('[data-testid="new-title"]', "bread");
    await a.page.click('[data-testid="add"]');
    await waitTitles(a.page, ["oat milk", "bread"], "a's offline edits");
    assert.equal(await text(a.page, "pending"), "2 pending");
    await a.page.reload();
    await waitTitles(a.page, ["oat milk", "bread"], "after an offline reload");
    await a.page.waitForSelector('[data-testid="status"].offline');
    assert.equal(await text(a.page, "pending"), "2 pending");
    await waitTitles(b.page, ["milk"], "b has not seen them yet");

    // Back online: both converge.
    a.offline(false);
    await waitTitles(b.page, ["oat milk", "bread"], "b after a reconnects");
    await a.page.waitForFunction(
      `document.querySelector('[data-testid="pending"]')?.textContent === "0 pending"`,
    );

    // A conflicting edit: b wins while a is offline; a's edit rolls back, visibly.
    a.offline(true);
    await editTitle(a.page, "bread", "rye bread");
    await waitTitles(a.page, ["oat milk", "rye bread"], "a's optimistic edit");
    await editTitle(b.page, "bread", "white bread");
    await b.page.waitForFunction(
      `document.querySelector('[data-testid="pending"]')?.textContent === "0 pending"`,
    );
    a.offline(false);
    await waitTitles(a.page, ["oat milk", "white bread"], "a rolled back to the server's row");
    const notice = a.page.locator('[data-testid="notice"]');
    await notice.first().waitFor({ timeout: 30_000 });
    assert.match((await notice.allTextContents()).join(" "), /rolled back/);
    await waitTitles(b.page, ["oat milk", "white bread"], "b unchanged");
    const rows = await stack.db.sql<{ title: string }>(
      "SELECT title FROM public.todos ORDER BY title",
    );
    assert.deepEqual(rows.map((r) => r.title), ["oat milk", "white bread"]);
  } finally {
    await chromium.close();
    for (const p of proxies) p.close();
    await stack.close();
  }
});

import assert from "node:assert/strict";
/**
 * The dashboard's server (no browser): its files, /config.json, its settings, and that it shares
 * no code with the other services. Kept out of services/dashboard/ so that folder imports nothing
 * from outside, tests included.
 */
import { DashboardConfigError, readDashboardConfig } from "../services/dashboard/config.ts";
import { dashboardHandler } from "../services/dashboard/server.ts";

Deno.test("dashboard: serves the page, its modules and /config.json with a CSP naming the API", async () => {
  const handle = await dashboardHandler({ apiUrl: "http://127.0.0.1:8070", apiToken: "tok" });
  const page = handle(new Request("http://d/"));
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type")!, /text\/html/);
  assert.match(await page.text(), /<script type="module" src="\/app.js">/);
  assert.match(
    page.headers.get("content-security-policy")!,
    /connect-src 'self' http:\/\/127\.0\.0\.1:8070/,
  );
  const app = handle(new Request("http://d/app.js"));
  assert.match(app.headers.get("content-type")!, /javascript/);
  await app.body?.cancel();
  assert.equal(handle(new Request("http://d/views/conflicts.js")).status, 200);
  assert.deepEqual(await handle(new Request("http://d/config.json")).json(), {
    apiUrl: "http://127.0.0.1:8070",
    token: "tok",
  });
  assert.equal(handle(new Request("http://d/../server.ts")).status, 404);
  assert.equal(handle(new Request("http://d/server.ts")).status, 404);
  assert.equal(handle(new Request("http://d/", { method: "POST" })).status, 405);
});

Deno.test("dashboard: settings from the environment, every problem at once", () => {
  const c = readDashboardConfig({ SYNC_API_URL: "http://sync:8070/" });
  assert.deepEqual(c, {
    host: "127.0.0.1",
    port: 3000,
    apiUrl: "http://sync:8070",
    apiToken: undefined,
  });
  assert.equal(readDashboardConfig({ SYNC_PORT: "9000" }).apiUrl, "http://127.0.0.1:9000");
  try {
    readDashboardConfig({ DASHBOARD_PORT: "x", SYNC_API_URL: "ftp://nope" });
    assert.fail("expected problems");
  } catch (err) {
    assert.ok(err instanceof DashboardConfigError);
    assert.equal(err.problems.length, 2);
  }
});

Deno.test("dashboard: no import leaves services/dashboard/ (it shares no code with the services)", async () => {
  const root = new URL("../services/dashboard/", import.meta.url);
  const offenders: string[] = [];
  const walk = async (dir: URL) => {
    for await (const e of Deno.readDir(dir)) {
      const url = new URL(e.name + (e.isDirectory ? "/" : ""), dir);
      if (e.isDirectory) await walk(url);
      else if (/\.(ts|js)$/.test(e.name)) {
        const text = await Deno.readTextFile(url);
        const specifiers = [
          ...text.matchAll(/(?:import|export)\s[^'"`;]*?from\s*["']([^"']+)["']/g),
          ...text.matchAll(/import\s*\(\s*["']([^"']+)["']\s*\)/g),
          ...text.matchAll(/^\s*import\s*["']([^"']+)["']/gm),
        ].map((m) => m[1]!);
        for (const s of specifiers) {
          // Modules in public/ are served from "/": a leading slash stays inside public/.
          const base = url.pathname.includes("/public/") && s.startsWith("/")
            ? new URL(`./public${s}`, root)
            : new URL(s, url);
          const inside = (s.startsWith(".") || s.startsWith("/")) &&
            base.href.startsWith(root.href);
          if (!inside) offenders.push(`${url.pathname.slice(root.pathname.length)}: ${s}`);
        }
      }
    }
  };
  await walk(root);
  assert.deepEqual(offenders, []);
});

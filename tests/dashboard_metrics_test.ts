/**
 * The provisioned Grafana dashboard (deploy/grafana) queries only metrics the services expose: the
 * names in its PromQL are read off the running services' /metrics. Their label sets stay bounded:
 * an unknown path or method adds no series of its own.
 */
import assert from "node:assert/strict";
import { startStack } from "./support/stack.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

interface Dashboard {
  panels: { title: string; targets: { expr: string }[] }[];
}

Deno.test("every metric the dashboard queries is exposed by a service", opts, async () => {
  const stack = await startStack();
  try {
    // A request to a path no route has, with a method no one uses: its labels must not appear.
    const odd = `/no-such-route-${crypto.randomUUID()}`;
    await fetch(`${stack.crud.url}${odd}`, { method: "PROPFIND" }).then((r) => r.body?.cancel());
    const texts = await Promise.all(
      [stack.crud, stack.listener, stack.gateway].map((s) =>
        fetch(`${s.url}/metrics`).then((r) => r.text())
      ),
    );
    const exposed = new Map<string, string>();
    for (const text of texts) {
      for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
        exposed.set(name!, type!);
      }
    }
    const dashboard = JSON.parse(
      await Deno.readTextFile(
        new URL("../deploy/grafana/dashboards/synchub.json", import.meta.url),
      ),
    ) as Dashboard;
    const queried = new Set<string>();
    for (const panel of dashboard.panels) {
      for (const { expr } of panel.targets) {
        for (const [name] of expr.matchAll(/\b(?:synchub|process)_[a-z0-9_]+/g)) queried.add(name);
      }
    }
    assert.ok(queried.size >= 10, `${queried.size} metrics queried`);
    const missing = [...queried].filter((name) => {
      if (exposed.has(name)) return false;
      const base = name.replace(/_(bucket|sum|count)$/, "");
      return exposed.get(base) !== "histogram";
    });
    assert.deepEqual(missing, [], "metrics the dashboard queries but no service exposes");
    // Base units (SPEC §12): nothing in milliseconds.
    assert.deepEqual([...exposed.keys()].filter((n) => /_ms($|_)/.test(n)), []);
    const all = texts.join("\n");
    assert.ok(!all.includes(odd), "no series per unknown path");
    assert.ok(!all.includes("PROPFIND"), "methods from a fixed set");
    assert.match(all, /synchub_build_info\{version="[^"]+",service="crud"/);
  } finally {
    await stack.close();
  }
});

/** `/health`, `/ready` and `/metrics` (SPEC §1), the same on every service. */
import type { Hono } from "hono";
import type { Registry } from "../metrics.ts";

export type ReadinessChecks = () => Promise<Record<string, boolean>> | Record<string, boolean>;

export function mountOps(
  app: Hono,
  service: string,
  registry: Registry,
  checks: ReadinessChecks,
  /** More to say in /ready's body (e.g. a listener's active and standby sources). */
  details: () => Record<string, unknown> = () => ({}),
) {
  app.get("/health", (c) => c.json({ status: "ok", service }));
  app.get("/ready", async (c) => {
    let results: Record<string, boolean>;
    try {
      results = await checks();
    } catch {
      results = { checks: false };
    }
    const ready = Object.values(results).every(Boolean);
    return c.json({ ready, service, checks: results, ...details() }, ready ? 200 : 503);
  });
  app.get(
    "/metrics",
    (c) =>
      c.text(registry.render(), 200, {
        "content-type": "text/plain; version=0.0.4; charset=utf-8",
      }),
  );
}

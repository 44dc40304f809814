/**
 * Conflicts (SPEC §8.3, mounted under /api/v1): the list, and resolving a parked one — the chosen
 * version is written to both sides (resolve.ts) before it is marked resolved; every viewer of the
 * stream is told.
 */
import { Hono } from "hono";
import type { Row } from "../../../../lib/envelope.ts";
import { SyncError } from "../../../../lib/errors.ts";
import type { EventHub } from "../../control/events.ts";
import type { SyncMetrics } from "../../control/metrics.ts";
import type { SyncRuntime } from "../../control/runtime.ts";
import { resolveConflict } from "../../resolve.ts";
import type { ControlEnv, JsonBody } from "../env.ts";
import { conflictsQuery, parseWith, resolveBody } from "../schemas.ts";

export interface ConflictsDeps {
  runtime: SyncRuntime;
  hub: EventHub;
  metrics: SyncMetrics;
  jsonBody: JsonBody;
}

export function conflictsApp(deps: ConflictsDeps) {
  const { runtime, hub, metrics } = deps;
  const app = new Hono<ControlEnv>();
  /** Conflicts being resolved now: a second request for one is a 409, not a second write. */
  const resolving = new Set<string>();

  app.get("/conflicts", async (c) => {
    const q = parseWith(conflictsQuery, c.req.query());
    return c.json(
      await runtime.store.listConflicts({
        status: q.status,
        limit: q.limit,
        ...(q.table ? { table: q.table } : {}),
        ...(q.after ? { after: q.after } : {}),
      }),
    );
  });

  app.post("/conflicts/:id/resolve", async (c) => {
    const id = c.req.param("id");
    const body = parseWith(resolveBody, await deps.jsonBody(c.req.raw));
    if (resolving.has(id)) throw new SyncError("conflict", `conflict ${id} is being resolved`);
    resolving.add(id);
    try {
      const ctx = runtime.context();
      const resolved = await resolveConflict(ctx, id, body.resolution, body.data as Row);
      metrics.resolved(body.resolution);
      runtime.log.info("conflict resolved", {
        id,
        table: resolved.table,
        resolution: body.resolution,
        caller: c.get("caller"),
      });
      hub.publish("conflict", resolved);
      return c.json(resolved);
    } finally {
      resolving.delete(id);
    }
  });

  return app;
}

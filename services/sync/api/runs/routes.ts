/**
 * Runs (SPEC §8.3, mounted under /api/v1): trigger and stop, the status, the history, and the
 * Server-Sent Events stream of what happens.
 */
import { Hono } from "hono";
import type { EventHub } from "../../control/events.ts";
import type { RealtimeStatus } from "../../control/realtime_status.ts";
import type { RunController } from "../../control/run_controller.ts";
import type { SyncRuntime } from "../../control/runtime.ts";
import { syncStatus } from "../../control/status.ts";
import type { ControlEnv, JsonBody } from "../env.ts";
import { historyQuery, parseWith, triggerBody } from "../schemas.ts";

export interface RunsDeps {
  runtime: SyncRuntime;
  runs: RunController;
  hub: EventHub;
  realtime: RealtimeStatus;
  jsonBody: JsonBody;
}

export function runsApp(deps: RunsDeps) {
  const { runtime, runs, hub, realtime } = deps;
  const app = new Hono<ControlEnv>();

  app.post("/sync/trigger", async (c) => {
    // An empty body is "everything, in the configured mode".
    const raw = c.req.header("content-length") === "0" || !c.req.raw.body
      ? {}
      : await deps.jsonBody(c.req.raw);
    const body = parseWith(triggerBody, raw);
    const run = await runs.trigger(body, "api");
    return c.json({ run_id: run.id }, 202);
  });

  app.post("/sync/stop", async (c) => {
    const end = await runs.stop();
    return c.json({ run_id: end.id, status: end.status });
  });

  app.get("/sync/status", async (c) => c.json(await syncStatus(runtime, runs, realtime)));

  app.get("/sync/history", async (c) => {
    const q = parseWith(historyQuery, c.req.query());
    const stored = await runtime.store.listRuns({
      limit: q.limit,
      ...(q.before ? { before: q.before } : {}),
    });
    // The run in progress with its live progress, not as recorded at its start.
    const live = runs.busy ? runs.run : null;
    return c.json({ runs: stored.map((r) => (live && r.id === live.id ? live : r)) });
  });

  app.get("/sync/stream", (c) => {
    const stream = hub.open(c.req.header("last-event-id") ?? null);
    return new Response(stream, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache, no-transform",
        "x-accel-buffering": "no",
      },
    });
  });

  return app;
}

/**
 * The sync service's HTTP surface (SPEC §8.3), composed as a Hono app like the CRUD service's:
 * the guards every request passes (guards.ts), `/health`, `/ready`, `/metrics`, then the route
 * groups mounted under /api/v1 — runs/ (trigger, stop, status, history, stream), conflicts/,
 * config/ — and the OpenAPI document they describe. JSON errors as SPEC §5.
 */
import { Hono } from "hono";
import { SyncError } from "../../../lib/errors.ts";
import { mountOps, type ReadinessChecks } from "../../../lib/http/ops.ts";
import { readJson } from "../../../lib/http/read_json.ts";
import type { TokenVerifier } from "../../../lib/jwt.ts";
import type { Logger } from "../../../lib/log.ts";
import type { Registry } from "../../../lib/metrics.ts";
import type { ApplyDeps } from "../control/apply_config.ts";
import type { EventHub } from "../control/events.ts";
import type { SyncMetrics } from "../control/metrics.ts";
import type { RealtimeStatus } from "../control/realtime_status.ts";
import type { RunController } from "../control/run_controller.ts";
import type { SyncRuntime } from "../control/runtime.ts";
import type { Scheduler } from "../control/scheduler.ts";
import { configApp } from "./config/routes.ts";
import { conflictsApp } from "./conflicts/routes.ts";
import type { ControlEnv } from "./env.ts";
import { installGuards } from "./guards.ts";
import { mountOpenApi } from "./openapi.ts";
import { runsApp } from "./runs/routes.ts";

const MAX_BODY_BYTES = 1 << 20;

export interface ControlDeps {
  runtime: SyncRuntime;
  runs: RunController;
  hub: EventHub;
  scheduler: Scheduler;
  realtime: RealtimeStatus;
  metrics: SyncMetrics;
  registry: Registry;
  verifyToken: TokenVerifier | undefined;
  checks: ReadinessChecks;
  env: ApplyDeps["env"];
  onDatabasesReplaced?: () => void;
  log: Logger;
}

export function createControlApp(deps: ControlDeps): Hono<ControlEnv> {
  const { runtime, log, metrics, realtime } = deps;
  const app = new Hono<ControlEnv>();
  installGuards(app, {
    config: () => runtime.config,
    verifyToken: deps.verifyToken,
    registry: deps.registry,
    log,
  });
  // Realtime lag is read when scraped.
  app.use("/metrics", async (_c, next) => {
    metrics.realtime(realtime.state());
    await next();
  });
  mountOps(app as unknown as Hono, "sync", deps.registry, deps.checks);

  const jsonBody = (req: Request) => readJson(req, MAX_BODY_BYTES);
  app.route("/api/v1", runsApp({ ...deps, jsonBody }));
  app.route("/api/v1", conflictsApp({ ...deps, jsonBody }));
  app.route(
    "/api/v1",
    configApp({
      runtime,
      runs: deps.runs,
      scheduler: deps.scheduler,
      metrics,
      env: deps.env,
      jsonBody,
      ...(deps.onDatabasesReplaced ? { onDatabasesReplaced: deps.onDatabasesReplaced } : {}),
    }),
  );
  app.get("/api/v1/metrics", (c) => {
    metrics.realtime(realtime.state());
    return c.text(deps.registry.render(), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    });
  });
  mountOpenApi(app);

  app.notFound((c) => c.json(new SyncError("not_found", "no such route").toBody(), 404));
  app.onError((err, c) => {
    const e = err instanceof SyncError ? err : new SyncError("internal");
    if (e.code === "internal") {
      log.error("request failed", { method: c.req.method, path: c.req.path, err });
    }
    const headers: Record<string, string> = e.code === "unauthorized"
      ? { "www-authenticate": 'Bearer realm="synchub-sync"' }
      : {};
    return c.json(e.toBody(), e.status as 400, headers);
  });
  return app;
}

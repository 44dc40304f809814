/**
 * The CRUD service's HTTP surface (SPEC §5), composed as a Hono app: the guards every request
 * passes (guards.ts), then sub-apps mounted with `app.route` — accounts (auth/), rows (rows/) —
 * and the OpenAPI document their own modules describe. JSON in and out; errors as
 * `{"error":{"code","message","details"}}` with stable codes, no stack traces.
 */
import { Hono } from "hono";
import type { AccessPolicy } from "../../lib/access.ts";
import type { CatalogCache } from "../../lib/catalog.ts";
import { SyncError } from "../../lib/errors.ts";
import { mountOps, type ReadinessChecks } from "../../lib/http/ops.ts";
import { refuseOtherMethods } from "../../lib/http/routes.ts";
import type { TokenVerifier } from "../../lib/jwt.ts";
import type { Logger } from "../../lib/log.ts";
import type { Registry } from "../../lib/metrics.ts";
import type { HubEvents } from "../../lib/events.ts";
import type { DeviceStore } from "../../lib/postgres/devices.ts";
import type { Pool } from "../../lib/postgres/pool.ts";
import { authApp } from "./auth/routes.ts";
import { idempotency } from "./idempotency.ts";
import type { IdempotencyStore } from "./idempotency_store.ts";
import type { UserStore } from "./auth/users.ts";
import type { CrudEnv } from "./env.ts";
import { type GuardLimits, installGuards } from "./guards.ts";
import { mountOpenApi } from "./openapi.ts";
import { readJson } from "../../lib/http/read_json.ts";
import type { RowStore } from "./rows/row_store.ts";
import { rowsApp } from "./rows/routes.ts";
import { mountStatic } from "./static_routes.ts";
import type { BusPositions } from "./buckets/position.ts";
import { bucketsApp } from "./buckets/routes.ts";
import type { Checkpoints } from "./checkpoints/checkpoints.ts";
import { checkpointsApp } from "./checkpoints/routes.ts";
import { conflictEvents } from "./conflict_events.ts";
import { devicesApp } from "./devices/routes.ts";

export interface CrudDeps {
  store: RowStore;
  catalog: CatalogCache;
  policy: AccessPolicy;
  users: UserStore;
  verifyToken: TokenVerifier;
  jwtSecret: string;
  limits: GuardLimits & { maxBodyBytes: number; accessTokenTtlSeconds: number };
  log: Logger;
  registry: Registry;
  checks: ReadinessChecks;
  /** SPEC §9: answers kept for `Idempotency-Key` writes; unset, the header is ignored. */
  idempotency?: IdempotencyStore;
  /** `deno task dev` only: mints the demo page's dev token. */
  devToken?: () => Promise<string>;
  // SPEC §10: checkpoints, bucket data, devices and subscriptions, hub events.
  pool: Pool;
  events: HubEvents;
  positions: BusPositions;
  checkpoints: Checkpoints;
  devices: DeviceStore;
}

export function createCrudApp(deps: CrudDeps): Hono<CrudEnv> {
  const { log, limits } = deps;
  const app = new Hono<CrudEnv>();
  const guards = installGuards(app, deps);
  mountOps(app as unknown as Hono, "crud", deps.registry, deps.checks);
  if (deps.idempotency) {
    // After the guards: answers are kept per token subject.
    app.use(
      "/v1/tables/*",
      idempotency(deps.idempotency, { maxBodyBytes: limits.maxBodyBytes }),
    );
  }

  const jsonBody = (req: Request) => readJson(req, limits.maxBodyBytes);
  app.get("/", (c) =>
    c.json({
      service: "synchub-crud",
      tables: "/v1/tables",
      openapi: "/openapi.json",
      docs: "/docs",
    }));
  app.route(
    "/v1",
    authApp({
      users: deps.users,
      jwtSecret: deps.jwtSecret,
      accessTokenTtlSeconds: limits.accessTokenTtlSeconds,
      jsonBody,
      limitAccount: guards.limitAccount,
      events: deps.events,
    }),
  );
  // Inside idempotency's middleware: a replayed 409 never reaches it, only new conflicts do.
  app.use("/v1/tables/*", conflictEvents(deps.events, deps.catalog));
  app.route(
    "/v1",
    rowsApp({ store: deps.store, catalog: deps.catalog, policy: deps.policy, jsonBody }),
  );
  // SPEC §10
  app.route("/v1", checkpointsApp({ ...deps, rows: deps.store, jsonBody }));
  app.route("/v1", bucketsApp(deps));
  app.route("/v1", devicesApp({ ...deps, jsonBody }));
  mountOpenApi(app, deps.catalog, deps.policy);
  mountStatic(app, { log, devToken: deps.devToken }); // SPEC §9: /sdk/synchub.js and /demo/
  // Last: a known path asked with a method it does not take is a 405, not a 404.
  refuseOtherMethods(app, (allow) => {
    throw new SyncError("method_not_allowed", `this path takes ${allow.join(", ")}`, { allow });
  });

  app.notFound((c) => c.json(new SyncError("not_found", "no such route").toBody(), 404));
  app.onError((err, c) => {
    const e = err instanceof SyncError ? err : new SyncError("internal");
    if (e.code === "internal" || e.code === "unavailable") {
      log.error("request failed", { method: c.req.method, path: c.req.path, err });
    }
    // rate_limited and overloaded say when to come back.
    const retry = (e.details as { retryAfter?: number } | undefined)?.retryAfter;
    const headers: Record<string, string> = retry ? { "retry-after": String(retry) } : {};
    if (e.code === "method_not_allowed") {
      headers.allow = (e.details as { allow: string[] }).allow.join(", ");
    }
    return c.json(e.toBody(), e.status as 400, headers);
  });
  return app;
}

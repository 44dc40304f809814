/** Builds the CRUD service from configuration and serves it. */
import { stopStep } from "../../lib/shutdown.ts";
import { type AccessPolicy, bucketColumns } from "../../lib/access.ts";
import type { Bus } from "../../lib/bus/bus.ts";
import type { Config } from "../../lib/config.ts";
import { HubEvents } from "../../lib/events.ts";
import { serve, type Served } from "../../lib/http/serve.ts";
import { createTokenVerifier } from "../../lib/jwt.ts";
import type { Logger } from "../../lib/log.ts";
import { Registry } from "../../lib/metrics.ts";
import { PasswordSlots, slotMetrics } from "../../lib/password_slots.ts";
import { CatalogCache } from "../../lib/catalog.ts";
import { loadCatalog } from "../../lib/postgres/catalog.ts";
import { DeviceStore } from "../../lib/postgres/devices.ts";
import { createPool } from "../../lib/postgres/pool.ts";
import { createCrudApp } from "./app.ts";
import { UserStore } from "./auth/users.ts";
import { BusPositions } from "./buckets/position.ts";
import { Checkpoints } from "./checkpoints/checkpoints.ts";
import { startSchedule } from "./checkpoints/schedule.ts";
import { CheckpointStore } from "./checkpoints/store.ts";
import { IdempotencyStore } from "./idempotency_store.ts";
import { RowStore } from "./rows/row_store.ts";

export interface CrudOptions {
  config: Config;
  policy: AccessPolicy;
  databaseUrl: string;
  jwtSecret: string;
  log: Logger;
  /** The bus hub events and cursors refer to (SPEC §10): shared in process, or the service's own. */
  bus: Bus;
  /** `deno task dev` only: mints the demo page's dev token. */
  devToken?: () => Promise<string>;
}

export function serveCrud(
  { config, policy, databaseUrl, jwtSecret, log, bus, devToken }: CrudOptions,
): Served {
  const pool = createPool(databaseUrl, { log, max: 20, applicationName: "synchub-crud" });
  // Each table's effective rule is logged once per catalog load that changes it.
  const described = new Map<string, string>();
  const catalog = new CatalogCache(
    () =>
      loadCatalog(
        pool,
        config.postgres.publication,
        bucketColumns(policy),
        log,
        config.postgres.sourceName, // it names the tables' topics (cursors of SPEC §10)
      ),
    (c) => {
      for (const t of c.tables) {
        const line = policy.describe(t);
        if (described.get(t.qualified) !== line) log.info("serving table", { access: line });
        described.set(t.qualified, line);
      }
    },
  );
  // SPEC §10: hub events, cursors of snapshots, checkpoints (and their schedule), devices.
  const connecting = new AbortController();
  bus.connect(connecting.signal).catch(() => {}); // retries until it connects or we stop
  const events = new HubEvents(bus, config.topicPrefix, log.child("events"));
  const positions = new BusPositions(bus, config.topicPrefix);
  const checkpoints = new Checkpoints({
    databaseUrl,
    store: new CheckpointStore(pool),
    positions,
    events,
    dir: `${config.dataDir}/checkpoints`,
    retention: config.checkpoints.retention,
    log: log.child("checkpoints"),
  });
  // Pending checkpoints of a process that died are failed, not left pending for ever.
  checkpoints.store.failStale(600_000).catch(() => {});
  const stopSchedule = config.checkpoints.cron
    ? startSchedule(
      { checkpoints, catalog, policy, pool, log: log.child("checkpoints") },
      config.checkpoints.cron,
      config.checkpoints.buckets,
    )
    : () => {};
  const registry = new Registry("crud");
  // One gate for the whole process: a login flood hashes on at most this many cores.
  const slots = new PasswordSlots({
    concurrency: config.crud.passwordConcurrency,
    maxQueued: config.crud.passwordQueue,
    metrics: slotMetrics(registry, "synchub_crud"),
  });
  const app = createCrudApp({
    store: new RowStore(pool),
    catalog,
    policy,
    users: new UserStore(pool, { ...config.crud, slots }),
    verifyToken: createTokenVerifier(jwtSecret),
    jwtSecret,
    limits: config.crud,
    log,
    registry,
    idempotency: new IdempotencyStore(pool), // SPEC §9
    ...(devToken ? { devToken } : {}),
    checks: async () => ({
      database: await pool.query("SELECT 1").then(() => true, () => false),
      bus: bus.ready(),
    }),
    pool,
    events,
    positions,
    checkpoints,
    devices: new DeviceStore(pool),
  });
  const served = serve("crud", app.fetch, {
    host: config.host,
    port: config.ports.crud,
    portVariable: "CRUD_PORT",
    log,
  });
  return {
    ...served,
    stop: async () => {
      stopSchedule();
      connecting.abort();
      await stopStep("crud: http", () => served.stop());
      // A writer process still running is stopped; its checkpoint is marked failed.
      await stopStep("crud: checkpoints", () => checkpoints.close());
      await stopStep("crud: database pool", () => pool.end());
    },
  };
}

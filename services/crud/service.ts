/** Builds the CRUD service from configuration and serves it. */
import { type AccessPolicy } from "../../lib/access.ts";
import { accessPolicy } from "../../lib/access_policy.ts";
import type { Bus } from "../../lib/bus/bus.ts";
import type { Config } from "../../lib/config.ts";
import { HubEvents } from "../../lib/events.ts";
import { serve, type Served } from "../../lib/http/serve.ts";
import { createTokenVerifier } from "../../lib/jwt.ts";
import type { Logger } from "../../lib/log.ts";
import { Registry } from "../../lib/metrics.ts";
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
import { RowStore } from "./rows/row_store.ts";

export interface CrudOptions {
  config: Config;
  databaseUrl: string;
  jwtSecret: string;
  log: Logger;
  /** The bus hub events and cursors refer to: shared in process, or the service's own. */
  bus: Bus;
  /** The access policy (SPEC §7); without one, the built-in rules. */
  access?: AccessPolicy;
}

export function serveCrud(opts: CrudOptions): Served {
  const { config, databaseUrl, jwtSecret, log, bus } = opts;
  const pool = createPool(databaseUrl, { log, max: 20, applicationName: "synchub-crud" });
  const catalog = new CatalogCache(
    () =>
      loadCatalog(
        pool,
        config.postgres.publication,
        config.bucketColumn,
        log,
        config.postgres.sourceName,
      ),
  );
  const connecting = new AbortController();
  bus.connect(connecting.signal).catch(() => {}); // retries until it connects or we stop
  const access = opts.access ?? accessPolicy(undefined, config.bucketColumn);
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
      { checkpoints, catalog, access, pool, log: log.child("checkpoints") },
      config.checkpoints.cron,
      config.checkpoints.buckets,
    )
    : () => {};
  const app = createCrudApp({
    store: new RowStore(pool),
    catalog,
    users: new UserStore(pool, config.crud),
    verifyToken: createTokenVerifier(jwtSecret),
    jwtSecret,
    limits: config.crud,
    log,
    registry: new Registry("crud"),
    checks: async () => ({
      database: await pool.query("SELECT 1").then(() => true, () => false),
      bus: bus.ready(),
    }),
    pool,
    access,
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
      await served.stop();
      await checkpoints.close();
      await pool.end();
    },
  };
}

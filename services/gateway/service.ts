/** Builds the gateway from configuration and a bus, and serves it. */
import type { Bus } from "../../lib/bus/bus.ts";
import { topicFor } from "../../lib/bus/bus.ts";
import type { Config } from "../../lib/config.ts";
import { serve, type Served } from "../../lib/http/serve.ts";
import { createTokenVerifier } from "../../lib/jwt.ts";
import type { Logger } from "../../lib/log.ts";
import { Registry } from "../../lib/metrics.ts";
import { CatalogCache } from "../../lib/postgres/catalog.ts";
import { createPool } from "../../lib/postgres/pool.ts";
import { PgSnapshotReader } from "../../lib/postgres/snapshot.ts";
import { loadGatewayCatalog } from "./catalog.ts";
import { createGateway } from "./gateway.ts";

export interface GatewayOptions {
  config: Config;
  databaseUrl: string;
  jwtSecret: string;
  bus: Bus;
  log: Logger;
}

export function serveGateway(opts: GatewayOptions): Served {
  const { config, log } = opts;
  // The catalog tells the gateway which tables exist and what their columns are.
  const pool = createPool(opts.databaseUrl, { log, max: 8, applicationName: "synchub-gateway" });
  const gateway = createGateway({
    bus: opts.bus,
    catalog: new CatalogCache(
      () => loadGatewayCatalog(pool, config, log),
      log,
    ),
    snapshots: new PgSnapshotReader(pool, config.postgres.sourceName, config.bucketColumn),
    // PostgreSQL tables are schema.table; MySQL and MongoDB ones db.table (SPEC §3).
    topicOf: (table) =>
      topicFor(config.topicPrefix, {
        name: table.source,
        schema: table.connector === "postgres" ? table.schema : null,
        db: table.schema,
        table: table.name,
      }),
    verifyToken: createTokenVerifier(opts.jwtSecret),
    limits: config.gateway,
    log,
    registry: new Registry("gateway"),
  });
  const served = serve("gateway", gateway.app.fetch, {
    host: config.host,
    port: config.ports.gateway,
    portVariable: "GATEWAY_PORT",
    log,
  });
  return {
    ...served,
    stop: async () => {
      await gateway.stop();
      await served.stop();
      await pool.end();
    },
  };
}

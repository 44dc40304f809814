/**
 * Builds the listener from configuration and a bus: its sources, its pipelines, the catalog it
 * publishes, the snapshots it serves, its ops port.
 */
import { stopStep } from "../../lib/shutdown.ts";
import { Hono } from "hono";
import { type AccessPolicy, bucketColumns } from "../../lib/access.ts";
import type { Bus } from "../../lib/bus/bus.ts";
import type { Config, SourceConfig } from "../../lib/config.ts";
import { mountOps } from "../../lib/http/ops.ts";
import { serve, type Served } from "../../lib/http/serve.ts";
import { createTokenVerifier } from "../../lib/jwt.ts";
import type { Logger } from "../../lib/log.ts";
import { Registry } from "../../lib/metrics.ts";
import { createPool } from "../../lib/postgres/pool.ts";
import { PgPositionStore, type PositionStore } from "../../lib/postgres/positions.ts";
import type { SnapshotReader } from "../../lib/snapshot.ts";
import { PgLease } from "./lease.ts";
import { startListener } from "./listener.ts";
import { LazySource } from "./lazy_source.ts";
import { WalSource } from "./postgres/wal_source.ts";
import { mountSnapshots, sourceSnapshots } from "./snapshots.ts";
import type { Source } from "./source.ts";

export interface ListenerOptions {
  config: Config;
  databaseUrl: string;
  bus: Bus;
  log: Logger;
  /** Decides each table's bucket column (envelopes' `bucket`, catalog entries). */
  policy: AccessPolicy;
  /** Verifies the service tokens of snapshot requests from other processes; none: not served. */
  jwtSecret?: string | undefined;
}

export interface ListenerService extends Served {
  /** Snapshots read with the sources' own credentials, for a gateway in this process. */
  readonly snapshots: SnapshotReader;
}

/** PostgreSQL (the hub's own database) always; MySQL and MongoDB sources as configured. */
export function sourcesFromConfig(
  config: Config,
  databaseUrl: string,
  deps: { positions: PositionStore; log: Logger; policy: AccessPolicy },
): Source[] {
  const { log, positions } = deps;
  const columns = bucketColumns(deps.policy);
  const pg = new WalSource({
    name: config.postgres.sourceName,
    url: databaseUrl,
    positions,
    slot: config.postgres.slot,
    publication: config.postgres.publication,
    publicationTables: config.postgres.publicationTables,
    bucketColumns: columns,
    log: log.child(config.postgres.sourceName),
    snapshotMode: config.snapshotMode,
  });
  const other = (s: SourceConfig): Source =>
    s.connector === "mysql"
      ? new LazySource(s.name, "mysql", async () => {
        const { BinlogSource } = await import("./mysql/binlog_source.ts");
        return new BinlogSource({
          name: s.name,
          url: s.url,
          tables: s.tables,
          bucketColumns: columns,
          serverId: s.serverId,
          snapshotMode: config.snapshotMode,
          positions,
          log: log.child(s.name),
        });
      })
      : new LazySource(s.name, "mongodb", async () => {
        const { ChangeStreamSource } = await import("./mongodb/change_stream_source.ts");
        return new ChangeStreamSource({
          name: s.name,
          url: s.url,
          collections: s.tables,
          bucketColumns: columns,
          positions,
          log: log.child(s.name),
        });
      });
  return [pg, ...config.sources.map(other)];
}

export function serveListener(opts: ListenerOptions): ListenerService {
  const { config, databaseUrl, bus, log } = opts;
  const pool = createPool(databaseUrl, { log, max: 2, applicationName: "synchub-positions" });
  const sources = sourcesFromConfig(config, databaseUrl, {
    positions: new PgPositionStore(pool),
    log,
    policy: opts.policy,
  });
  const registry = new Registry("listener");
  const listener = startListener({
    sources,
    bus,
    topicPrefix: config.topicPrefix,
    log,
    registry,
    maxEnvelopeBytes: config.envelopeMaxBytes,
    // One listener per source is active; others wait as standbys and take over when it stops.
    lease: new PgLease(databaseUrl, log.child("lease")),
  });
  const snapshots = sourceSnapshots(sources);
  const app = new Hono();
  // A standby is ready: it is doing its job, which is to wait.
  mountOps(app, "listener", registry, () => {
    const roles = listener.roles();
    return {
      bus: bus.ready(),
      ...Object.fromEntries(
        sources.map((s) => [`source:${s.name}`, s.ready() || roles[s.name] === "standby"]),
      ),
    };
  }, () => ({ roles: listener.roles() }));
  if (opts.jwtSecret) {
    mountSnapshots(app, {
      reader: snapshots,
      verifyToken: createTokenVerifier(opts.jwtSecret),
      log: log.child("snapshots"),
    });
  }
  const served = serve("listener", app.fetch, {
    host: config.host,
    port: config.ports.listener,
    portVariable: "LISTENER_PORT",
    log,
  });
  return {
    ...served,
    snapshots,
    stop: async () => {
      await stopStep("listener: sources", () => listener.stop());
      await stopStep("listener: http", () => served.stop());
      await pool.end();
    },
  };
}

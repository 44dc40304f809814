/**
 * Capture for programs other than the listener service — the sync service (SPEC §8.2): sources
 * built from explicit options instead of the hub's configuration, run by the listener's own
 * pipelines (restarts with back-off, catalog, confirmation only after the bus accepted) on a bus
 * the caller gives. Nothing here decodes: the adapters do.
 */
import pg from "pg";
import mysql from "mysql2/promise";
import type { Bus } from "../../lib/bus/bus.ts";
import type { Logger } from "../../lib/log.ts";
import type { Registry } from "../../lib/metrics.ts";
import { ensurePublication, ensurePublished } from "../../lib/postgres/publication.ts";
import type { PositionStore } from "../../lib/postgres/positions.ts";
import { type Listener, startListener } from "./listener.ts";
import { BinlogSource, connectionOptions } from "./mysql/binlog_source.ts";
import { encodeCheckpoint } from "./mysql/position.ts";
import { slotMemoryKey, WalSource } from "./postgres/wal_source.ts";
import { PositionLostError, type Source } from "./source.ts";

export { PositionLostError, slotMemoryKey };
export type { Listener, PositionStore, Source };

export interface PostgresCapture {
  readonly connector: "postgresql";
  readonly name: string;
  readonly url: string;
  readonly slot: string;
  readonly publication: string;
  /** `schema.table`: created with these, or these added to an existing publication. */
  readonly tables: readonly string[];
  /** Remembers the slot's confirmed position, so a slot that disappears is known as lost. */
  readonly positions?: PositionStore;
}

export interface MySqlCapture {
  readonly connector: "mysql";
  readonly name: string;
  readonly url: string;
  /** `db.table` */
  readonly tables: readonly string[];
  /** Unique among the server's replicas. */
  readonly serverId: number;
  /** Where the binlog position is kept; the source resumes from it. */
  readonly positions: PositionStore;
  /**
   * With no stored position: `snapshot` reads the tables first (op "r"), `end` starts at the
   * binlog's current end, storing that position before anything streams.
   */
  readonly start: "snapshot" | "end";
}

export type CaptureSpec = PostgresCapture | MySqlCapture;

const noBuckets = () => null;

/** The listener's adapter for a database, from explicit options. */
export function captureSource(spec: CaptureSpec, log: Logger): Source {
  if (spec.connector === "mysql") {
    return new BinlogSource({
      name: spec.name,
      url: spec.url,
      tables: spec.tables,
      bucketColumns: noBuckets,
      serverId: spec.serverId,
      positions: spec.start === "end" ? startingAtEnd(spec.positions, spec.url) : spec.positions,
      log,
    });
  }
  const wal = new WalSource({
    name: spec.name,
    url: spec.url,
    slot: spec.slot,
    publication: spec.publication,
    publicationTables: spec.tables,
    bucketColumns: noBuckets,
    readConnections: 1,
    ...(spec.positions ? { positions: spec.positions } : {}),
    log,
  });
  return preparedFirst(wal, () => publish(spec));
}

export interface CaptureDeps {
  /** Built with `captureSource`; their `ready()` says whether each streams now. */
  sources: readonly Source[];
  bus: Bus;
  topicPrefix: string;
  log: Logger;
  registry: Registry;
  /** Told each time a source's stream fails (the pipeline then restarts it, with back-off). */
  onFailure?: (source: string, error: unknown) => void;
}

/** Runs the sources' pipelines on `deps.bus` until `stop`. */
export function startCapture(deps: CaptureDeps): Listener {
  const report = deps.onFailure;
  const sources = report
    ? deps.sources.map((s) =>
      wrapStream(s, async function* (signal) {
        try {
          yield* s.stream(signal);
        } catch (error) {
          if (!signal.aborted) report(s.name, error);
          throw error;
        }
      })
    )
    : deps.sources;
  return startListener({ ...deps, sources });
}

/** Runs `prepare` each time before the source streams (its failure fails the stream). */
function preparedFirst(source: Source, prepare: () => Promise<void>): Source {
  return wrapStream(source, async function* (signal) {
    await prepare();
    yield* source.stream(signal);
  });
}

/** The same source with another `stream`. */
function wrapStream(source: Source, stream: Source["stream"]): Source {
  return {
    name: source.name,
    connector: source.connector,
    stream,
    confirm: (c) => source.confirm(c),
    ready: () => source.ready(),
    tables: () => source.tables(),
    ...(source.snapshots ? { snapshots: source.snapshots } : {}),
    ...(source.close ? { close: () => source.close!() } : {}),
    ...(source.health ? { health: () => source.health!() } : {}),
  };
}

/** The publication exists and holds every table asked for (an existing one gains the missing). */
async function publish(spec: PostgresCapture): Promise<void> {
  const client = new pg.Client({ connectionString: spec.url, application_name: "synchub-capture" });
  client.on("error", () => {});
  await client.connect();
  try {
    if (await ensurePublication(client, spec.publication, spec.tables) === "created") return;
    for (const t of spec.tables) {
      const dot = t.indexOf(".");
      await ensurePublished(client, spec.publication, t.slice(0, dot), t.slice(dot + 1));
    }
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * A position store that, when nothing is stored yet, stores and returns the binlog's current
 * end: the source then streams from now on without a snapshot, and a restart resumes from what
 * was stored — never from a later "now".
 */
function startingAtEnd(positions: PositionStore, url: string): PositionStore {
  return {
    load: async (source) => {
      const stored = await positions.load(source);
      if (stored) return stored;
      const end = await binlogEnd(url);
      await positions.save(source, end);
      return end;
    },
    save: (source, position) => positions.save(source, position),
    clear: (source) => positions.clear(source),
  };
}

/** The server's current binlog file and offset, as a checkpoint (needs REPLICATION CLIENT). */
export async function binlogEnd(url: string): Promise<string> {
  const conn = await mysql.createConnection(connectionOptions(url));
  try {
    let rows: Record<string, unknown>[];
    try {
      [rows] = await conn.query("SHOW MASTER STATUS") as unknown as [Record<string, unknown>[]];
    } catch {
      // MySQL 8.4 renamed it.
      [rows] = await conn.query("SHOW BINARY LOG STATUS") as unknown as [
        Record<string, unknown>[],
      ];
    }
    const row = rows[0];
    if (!row?.File) throw new Error("the server has no binary log (start it with log-bin)");
    return encodeCheckpoint({ file: String(row.File), pos: Number(row.Position) });
  } finally {
    await conn.end().catch(() => {});
  }
}

/**
 * PostgreSQL logical replication (pgoutput through `pg-logical-replication`) as a Source.
 *
 * Confirmation is ours, not the library's: its automatic acknowledgement reports the last
 * *received* LSN and its `acknowledge` adds one to the LSN given. We turn both off, and report
 * exactly the commit end LSN of the last transaction the bus has confirmed, so a restart resumes
 * at the first transaction not yet on the bus.
 */
import pg from "pg";
import { LogicalReplicationService, type Pgoutput, PgoutputPlugin } from "pg-logical-replication";
import { AsyncQueue } from "../../../lib/async_queue.ts";
import { type Catalog, CatalogCache, type TableInfo } from "../../../lib/catalog.ts";
import { nowUs } from "../../../lib/envelope.ts";
import type { Logger } from "../../../lib/log.ts";
import { learnUserArrayTypes, loadCatalog } from "../../../lib/postgres/catalog.ts";
import { createPool, type Pool } from "../../../lib/postgres/pool.ts";
import { PgSnapshotReader } from "../../../lib/postgres/snapshot.ts";
import { type PositionStore, ThrottledSaver } from "../../../lib/postgres/positions.ts";
import { SESSION_OPTIONS } from "../../../lib/postgres/values.ts";
import type { Source, SourceBatch, SourceHealth } from "../source.ts";
import { type DecodedPart, type Relation, toEnvelopes, TransactionDecoder } from "./decode.ts";
import { formatLsn, parseLsn } from "./position.ts";
import { prepareReplication, primaryKeyOf, slotLost, type WalSetup } from "./setup.ts";
import { createExportingSlot, type ExportedSlot, readInitialSnapshot } from "./snapshot.ts";
import { snapshotProgress } from "../snapshot_progress.ts";

export interface WalSourceOptions extends WalSetup {
  name: string;
  url: string;
  /** Connections for catalog and snapshot reads (bounded: snapshots queue for one). Default 4. */
  readConnections?: number;
  log: Logger;
  /** Decoded changes held before the socket is paused. */
  maxQueued?: number;
  /** Changes per part of a transaction (a transaction of any size streams in parts). */
  partSize?: number;
  /** How often the confirmed position is reported even when nothing changes. */
  statusIntervalMs?: number;
  /** Looks up a table's primary key; replaceable so tests can make it slow. */
  primaryKey?: typeof primaryKeyOf;
  /**
   * Where the last confirmed LSN is remembered (the hub database): a slot that disappears later is
   * then known as lost, never silently recreated. Unset: not remembered.
   */
  positions?: PositionStore;
  /** How often the slot's health (lag, retention, invalidation) is read. */
  healthIntervalMs?: number;
  /**
   * `initial`: a slot created here first publishes the captured tables' rows (`op:"r"`), read as
   * of the slot's start (snapshot.ts). Default `never`.
   */
  snapshotMode?: "initial" | "never";
}

type Socket = { pause(): void; resume(): void };

export class WalSource implements Source {
  readonly connector = "postgresql" as const;
  readonly name: string;
  readonly snapshots: PgSnapshotReader;
  private readonly catalog: CatalogCache;
  private readonly pool: Pool;
  /** Everything up to here is on the bus (or holds nothing for us): the slot may move to it. */
  private confirmed = 0n;
  /** End of the last transaction received from the server, published or not. */
  private received = 0n;
  private streaming = false;
  private service: LogicalReplicationService | undefined;
  private statusTimer: ReturnType<typeof setTimeout> | undefined;
  private healthTimer: ReturnType<typeof setInterval> | undefined;
  private readonly saver: ThrottledSaver | undefined;
  private slotHealth: SourceHealth = {};
  private confirmedAt = Date.now();

  constructor(private readonly opts: WalSourceOptions) {
    this.name = opts.name;
    this.pool = createPool(opts.url, {
      log: opts.log,
      max: opts.readConnections ?? 4,
      applicationName: "synchub-listener-reads",
    });
    this.catalog = new CatalogCache(() => this.loadCatalog());
    if (opts.positions) {
      this.saver = new ThrottledSaver(
        opts.positions,
        slotMemoryKey(opts.slot),
        (err) => opts.log.warn("could not remember the confirmed position", { err }),
        1_000,
      );
    }
    this.snapshots = new PgSnapshotReader(this.pool, {
      sourceName: opts.name,
      catalog: () => this.catalog.get(),
    });
  }

  ready(): boolean {
    return this.streaming;
  }

  async tables(): Promise<TableInfo[]> {
    return [...(await this.catalog.refresh()).tables];
  }

  private loadCatalog(): Promise<Catalog> {
    const { opts } = this;
    return loadCatalog(this.pool, opts.publication, opts.bucketColumns, opts.log, opts.name);
  }

  async close(): Promise<void> {
    await this.saver?.flush();
    await this.pool.end().catch(() => {});
  }

  health(): SourceHealth {
    return {
      ...this.slotHealth,
      confirmedAgeSeconds: Math.round((Date.now() - this.confirmedAt) / 1000),
    };
  }

  confirm(checkpoint: string): Promise<void> {
    if (checkpoint === this.snapshotCheckpoint) {
      this.snapshotCheckpoint = undefined;
      this.opts.positions?.save(snapshotMemoryKey(this.opts.slot), "done").catch((err) =>
        this.opts.log.warn("could not remember that the initial snapshot is done", { err })
      );
    }
    this.raiseConfirmed(parseLsn(checkpoint));
    this.scheduleStatus();
    return Promise.resolve();
  }

  async *stream(signal: AbortSignal): AsyncIterable<SourceBatch> {
    const { opts } = this;
    const meta = new pg.Client({
      connectionString: opts.url,
      application_name: "synchub-listener",
    });
    meta.on("error", (err) => opts.log.warn("metadata connection failed", { err }));
    // A fresh service per stream: a reused one would restart from the last LSN it *received*.
    const service = new LogicalReplicationService(
      { connectionString: opts.url, options: SESSION_OPTIONS, application_name: "synchub-wal" },
      { acknowledge: { auto: false, timeoutSeconds: 0 } },
    );
    const socket = () =>
      (service as unknown as { _connection?: { stream?: Socket } })._connection?.stream;
    // Parts of transactions, as decoded: past `maxQueued` changes the socket pauses, and WAL
    // waits in PostgreSQL — memory stays bounded whatever the size of a transaction.
    const queue = new AsyncQueue<DecodedPart>({
      highWater: opts.maxQueued ?? 1000,
      onDrain: () => socket()?.resume(),
      weigh: (part) => Math.max(1, part.changes.length),
    });
    const decoder = new TransactionDecoder(opts.partSize ?? 500);
    const keys = new Map<number, readonly string[]>();
    const onAbort = () => queue.end();
    signal.addEventListener("abort", onAbort, { once: true });

    let exported: ExportedSlot | undefined;
    try {
      await meta.connect();
      const initial = opts.snapshotMode === "initial";
      if (initial) await this.forgetUnfinishedSnapshot(meta);
      const prepared = await prepareReplication(
        meta,
        opts,
        opts.log,
        { known: () => opts.positions?.load(slotMemoryKey(opts.slot)) ?? Promise.resolve(null) },
        initial
          ? async () => {
            // Marked before the slot exists: a crash from here on takes the snapshot again.
            await opts.positions?.save(snapshotMemoryKey(opts.slot), "pending");
            exported = await createExportingSlot(opts.url, opts.slot);
          }
          : undefined,
      );
      await learnUserArrayTypes(meta);
      // Replies to the server's keepalives need a position even before we confirm anything.
      if (prepared.confirmedLsn) this.raiseConfirmed(parseLsn(prepared.confirmedLsn));
      this.received = this.confirmed;
      this.saver?.save(formatLsn(this.confirmed)); // a slot used once is remembered
      if (exported) {
        const tables = [...(await this.catalog.refresh()).tables];
        opts.log.info("new replication slot: publishing the initial snapshot", {
          slot: opts.slot,
          tables: tables.map((t) => t.qualified),
          at: exported.consistentPoint,
        });
        const progress = snapshotProgress(opts.log);
        for await (
          const batch of readInitialSnapshot(this.pool, exported, tables, {
            sourceName: opts.name,
            db: prepared.db,
            onProgress: progress,
          })
        ) {
          if (signal.aborted) return;
          if (batch.checkpoint !== null) this.snapshotCheckpoint = batch.checkpoint;
          yield batch;
        }
        opts.log.info("initial snapshot read; streaming from its position", {
          slot: opts.slot,
          at: exported.consistentPoint,
        });
      }
      this.healthTimer = setInterval(
        () => this.readHealth().catch((err) => queue.fail(err)),
        opts.healthIntervalMs ?? 10_000,
      );

      service.on("data", (_lsn: string, msg: Pgoutput.Message) => {
        try {
          if (msg.tag === "relation") keys.delete(msg.relationOid); // the table may have changed
          const part = decoder.push(msg);
          if (!part) return;
          if (part.endLsn !== null) this.received = part.endLsn;
          if (!queue.push(part)) socket()?.pause();
        } catch (err) {
          queue.fail(err);
        }
      });
      service.on("heartbeat", (lsn: string, _ts: number, shouldRespond: boolean) => {
        // Between transactions, with every transaction received already confirmed, the WAL up to
        // the server's send position holds nothing for us: the slot may move past it.
        if (decoder.idle && this.received <= this.confirmed) this.raiseConfirmed(parseLsn(lsn));
        if (shouldRespond) this.sendStatus();
      });
      service.on("error", (err: Error) => queue.fail(err));
      service.on("start", () => {
        this.streaming = true;
        this.sendStatus(); // confirmations made while no stream was open
        opts.log.info("streaming WAL", { slot: opts.slot, publication: opts.publication });
      });
      this.service = service;
      service.subscribe(
        new PgoutputPlugin({
          protoVersion: 1,
          publicationNames: [opts.publication],
          messages: true, // a transaction's trace context (decode.ts)
        }),
        opts.slot,
      )
        .then(
          () => queue.fail(new Error("the server ended the replication stream")),
          (err) => queue.fail(err),
        );
      this.statusTimer = setInterval(() => this.sendStatus(), opts.statusIntervalMs ?? 10_000);

      for await (const part of queue) {
        // Keys are resolved per part, so a relation message arriving meanwhile cannot take a key
        // away from a part being finished.
        const txKeys = new Map<number, readonly string[]>();
        for (const { change: { relation: r } } of part.changes) {
          if (txKeys.has(r.relationOid)) continue;
          let key = keys.get(r.relationOid);
          if (!key) {
            const pk = await (opts.primaryKey ?? primaryKeyOf)(meta, r.relationOid);
            // Without a primary key the replica identity is the key (all columns when FULL).
            key = pk.length > 0 ? pk : r.keyColumns;
            keys.set(r.relationOid, key);
          }
          txKeys.set(r.relationOid, key);
        }
        const envelopes = toEnvelopes(part, {
          sourceName: opts.name,
          db: prepared.db,
          bucketColumn: (r: Relation) => bucketColumnOf(r, opts.bucketColumns),
          keyColumns: (r: Relation) => txKeys.get(r.relationOid) ?? r.keyColumns,
          now: nowUs,
        });
        // A transaction is confirmed only once its last part is on the bus (with all before it).
        yield {
          envelopes,
          checkpoint: part.endLsn === null ? null : formatLsn(part.endLsn),
          ...(part.tx.traceparent ? { trace: part.tx.traceparent } : {}),
        };
      }
    } finally {
      await exported?.close();
      signal.removeEventListener("abort", onAbort);
      this.streaming = false;
      clearInterval(this.statusTimer);
      clearInterval(this.healthTimer);
      this.sendStatus();
      this.service = undefined;
      await service.stop().catch(() => {});
      service.removeAllListeners();
      await meta.end().catch(() => {});
    }
  }

  /** The initial snapshot's last checkpoint, until the bus has confirmed it. */
  private snapshotCheckpoint: string | undefined;

  /**
   * A slot whose initial snapshot never reached the bus whole is dropped, with what we remember
   * of it, so this start creates it again and takes the snapshot anew.
   */
  private async forgetUnfinishedSnapshot(meta: pg.Client): Promise<void> {
    const { positions, slot, log } = this.opts;
    if (!positions || await positions.load(snapshotMemoryKey(slot)) !== "pending") return;
    log.warn("the initial snapshot did not finish: taking it again with a new slot", { slot });
    await meta.query(
      "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1",
      [slot],
    );
    await positions.clear(slotMemoryKey(slot));
  }

  private raiseConfirmed(lsn: bigint): void {
    if (lsn <= this.confirmed) return;
    this.confirmed = lsn;
    this.confirmedAt = Date.now();
    this.saver?.save(formatLsn(lsn));
  }

  /**
   * The slot as the server sees it: lag and retained WAL for metrics; invalidated (max_slot_wal_
   * keep_size passed) or dropped is a PositionLostError — never a silent restart at "now".
   */
  private async readHealth(): Promise<void> {
    const { rows: [slot] } = await this.pool.query<
      { lag: number | null; retained: number | null; wal_status: string | null }
    >(
      `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::float8 AS lag,
              pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8 AS retained, wal_status
         FROM pg_replication_slots WHERE slot_name = $1`,
      [this.opts.slot],
    );
    if (!slot) throw slotLost(this.opts.slot, "was dropped while in use");
    if (slot.wal_status === "lost") {
      throw slotLost(this.opts.slot, "was invalidated (wal_status = lost)");
    }
    this.slotHealth = {
      ...(slot.lag !== null ? { lagBytes: Math.max(0, slot.lag) } : {}),
      ...(slot.retained !== null ? { retainedBytes: Math.max(0, slot.retained) } : {}),
    };
  }

  private statusPending = false;

  /** Reports soon rather than per transaction: at most one status message per 50 ms. */
  private scheduleStatus(): void {
    if (this.statusPending) return;
    this.statusPending = true;
    setTimeout(() => {
      this.statusPending = false;
      this.sendStatus();
    }, 50);
  }

  private sendStatus(): void {
    if (this.confirmed === 0n || !this.service) return;
    // `acknowledge` reports lsn + 1; we want the server to hold exactly `confirmed`.
    this.service.acknowledge(formatLsn(this.confirmed - 1n)).catch((err: unknown) =>
      this.opts.log.warn("could not report the confirmed position", { err })
    );
  }
}

const relationBuckets = new WeakMap<Relation, string | null>();

/** A relation's bucket column, decided once per relation message. */
function bucketColumnOf(relation: Relation, columns: WalSourceOptions["bucketColumns"]) {
  let column = relationBuckets.get(relation);
  if (column === undefined) {
    column = columns(
      `${relation.schema}.${relation.name}`,
      (c) => relation.columns.some((rc) => rc.name === c),
    );
    relationBuckets.set(relation, column);
  }
  return column;
}

/** Where a slot's last confirmed LSN is remembered in synchub.source_positions. */
export function slotMemoryKey(slot: string): string {
  return `slot:${slot}`;
}

/** Where it is remembered whether a slot's initial snapshot reached the bus: pending or done. */
export function snapshotMemoryKey(slot: string): string {
  return `snapshot:${slot}`;
}

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
import { SESSION_OPTIONS } from "../../../lib/postgres/values.ts";
import type { Source, SourceBatch } from "../source.ts";
import {
  type DecodedTransaction,
  type Relation,
  toEnvelopes,
  TransactionAssembler,
} from "./decode.ts";
import { formatLsn, parseLsn } from "./position.ts";
import { prepareReplication, primaryKeyOf, type WalSetup } from "./setup.ts";

export interface WalSourceOptions extends WalSetup {
  name: string;
  url: string;
  /** Connections for catalog and snapshot reads (bounded: snapshots queue for one). Default 4. */
  readConnections?: number;
  log: Logger;
  /** Decoded changes held before the socket is paused. */
  maxQueued?: number;
  /** How often the confirmed position is reported even when nothing changes. */
  statusIntervalMs?: number;
  /** Looks up a table's primary key; replaceable so tests can make it slow. */
  primaryKey?: typeof primaryKeyOf;
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

  constructor(private readonly opts: WalSourceOptions) {
    this.name = opts.name;
    this.pool = createPool(opts.url, {
      log: opts.log,
      max: opts.readConnections ?? 4,
      applicationName: "synchub-listener-reads",
    });
    this.catalog = new CatalogCache(() => this.loadCatalog());
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
    await this.pool.end().catch(() => {});
  }

  confirm(checkpoint: string): Promise<void> {
    const lsn = parseLsn(checkpoint);
    if (lsn > this.confirmed) {
      this.confirmed = lsn;
      this.scheduleStatus();
    }
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
    const queue = new AsyncQueue<DecodedTransaction>({
      highWater: opts.maxQueued ?? 5000,
      onDrain: () => socket()?.resume(),
      weigh: (tx) => Math.max(1, tx.changes.length),
    });
    const assembler = new TransactionAssembler();
    const keys = new Map<number, readonly string[]>();
    const onAbort = () => queue.end();
    signal.addEventListener("abort", onAbort, { once: true });

    try {
      await meta.connect();
      const prepared = await prepareReplication(meta, opts, opts.log);
      await learnUserArrayTypes(meta);
      // Replies to the server's keepalives need a position even before we confirm anything.
      if (prepared.confirmedLsn) this.raiseConfirmed(parseLsn(prepared.confirmedLsn));
      this.received = this.confirmed;

      service.on("data", (_lsn: string, msg: Pgoutput.Message) => {
        try {
          if (msg.tag === "relation") keys.delete(msg.relationOid); // the table may have changed
          const tx = assembler.push(msg);
          if (!tx) return;
          this.received = tx.endLsn;
          if (!queue.push(tx)) socket()?.pause();
        } catch (err) {
          queue.fail(err);
        }
      });
      service.on("heartbeat", (lsn: string, _ts: number, shouldRespond: boolean) => {
        // Between transactions, with every transaction received already confirmed, the WAL up to
        // the server's send position holds nothing for us: the slot may move past it.
        if (assembler.idle && this.received <= this.confirmed) this.raiseConfirmed(parseLsn(lsn));
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
        new PgoutputPlugin({ protoVersion: 1, publicationNames: [opts.publication] }),
        opts.slot,
      )
        .then(
          () => queue.fail(new Error("the server ended the replication stream")),
          (err) => queue.fail(err),
        );
      this.statusTimer = setInterval(() => this.sendStatus(), opts.statusIntervalMs ?? 10_000);

      for await (const tx of queue) {
        // Keys are resolved per transaction, so a relation message arriving meanwhile cannot
        // take a key away from a transaction being finished.
        const txKeys = new Map<number, readonly string[]>();
        for (const { relation: r } of tx.changes) {
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
        const envelopes = toEnvelopes(tx, {
          sourceName: opts.name,
          db: prepared.db,
          bucketColumn: (r: Relation) => bucketColumnOf(r, opts.bucketColumns),
          keyColumns: (r: Relation) => txKeys.get(r.relationOid) ?? r.keyColumns,
          now: nowUs,
        });
        yield { envelopes, checkpoint: formatLsn(tx.endLsn) };
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.streaming = false;
      clearInterval(this.statusTimer);
      this.sendStatus();
      this.service = undefined;
      await service.stop().catch(() => {});
      service.removeAllListeners();
      await meta.end().catch(() => {});
    }
  }

  private raiseConfirmed(lsn: bigint): void {
    if (lsn > this.confirmed) this.confirmed = lsn;
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

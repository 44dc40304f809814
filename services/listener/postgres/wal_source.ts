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
import type { Logger } from "../../../lib/log.ts";
import { learnUserArrayTypes } from "../../../lib/postgres/catalog.ts";
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
  log: Logger;
  /** Decoded transactions held before the socket is paused. */
  maxQueued?: number;
  /** How often the confirmed position is reported even when nothing changes. */
  statusIntervalMs?: number;
}

export class WalSource implements Source {
  readonly connector = "postgres" as const;
  readonly name: string;
  private confirmed = 0n;
  private lastYielded = 0n;
  private streaming = false;
  private service: LogicalReplicationService | undefined;
  private statusTimer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly opts: WalSourceOptions) {
    this.name = opts.name;
  }

  ready(): boolean {
    return this.streaming;
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
    await meta.connect();
    const keys = new Map<number, readonly string[]>();
    // A fresh service per stream: a reused one would restart from the last LSN it *received*.
    const service = new LogicalReplicationService(
      { connectionString: opts.url, options: SESSION_OPTIONS, application_name: "synchub-wal" },
      { acknowledge: { auto: false, timeoutSeconds: 0 } },
    );
    this.service = service;
    const socket = () =>
      (service as unknown as { _connection?: { stream?: { pause(): void; resume(): void } } })
        ._connection?.stream;
    const queue = new AsyncQueue<DecodedTransaction>(
      opts.maxQueued ?? 64,
      () => socket()?.resume(),
    );
    const assembler = new TransactionAssembler();
    const onAbort = () => queue.end();
    signal.addEventListener("abort", onAbort, { once: true });

    try {
      const db = await prepareReplication(meta, opts, opts.log);
      await learnUserArrayTypes(meta);
      service.on("data", (_lsn: string, msg: Pgoutput.Message) => {
        try {
          if (msg.tag === "relation") keys.delete(msg.relationOid); // the table may have changed
          const tx = assembler.push(msg);
          if (tx && !queue.push(tx)) socket()?.pause();
        } catch (err) {
          queue.fail(err);
        }
      });
      service.on("heartbeat", (lsn: string, _ts: number, shouldRespond: boolean) => {
        // Idle, with every transaction received confirmed: WAL up to the server's send position
        // holds nothing for us, so the slot may move past it.
        if (assembler.idle && queue.size === 0 && this.lastYielded <= this.confirmed) {
          const walEnd = parseLsn(lsn);
          if (walEnd > this.confirmed) this.confirmed = walEnd;
        }
        if (shouldRespond) this.sendStatus();
      });
      service.on("error", (err: Error) => queue.fail(err));
      service.on("start", () => {
        this.streaming = true;
        opts.log.info("streaming WAL", { slot: opts.slot, publication: opts.publication });
      });
      service.subscribe(
        new PgoutputPlugin({ protoVersion: 1, publicationNames: [opts.publication] }),
        opts.slot,
      )
        .then(
          () => queue.fail(new Error("the server ended the replication stream")),
          (err) => queue.fail(err),
        );
      this.statusTimer = setInterval(() => this.sendStatus(), opts.statusIntervalMs ?? 10_000);

      const keyColumns = (r: Relation) => keys.get(r.relationOid) ?? r.keyColumns;
      for await (const tx of queue) {
        for (const change of tx.changes) {
          const r = change.relation;
          if (keys.has(r.relationOid)) continue;
          const pk = await primaryKeyOf(meta, r.relationOid);
          // Without a primary key the replica identity is the key (all columns when FULL).
          keys.set(r.relationOid, pk.length > 0 ? pk : r.keyColumns);
        }
        const envelopes = toEnvelopes(tx, {
          sourceName: opts.name,
          db,
          bucketColumn: opts.bucketColumn,
          keyColumns,
          now: Date.now,
        });
        this.lastYielded = tx.endLsn;
        yield { envelopes, checkpoint: formatLsn(tx.endLsn) };
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.streaming = false;
      clearInterval(this.statusTimer);
      this.sendStatus();
      await service.stop().catch(() => {});
      service.removeAllListeners();
      this.service = undefined;
      await meta.end().catch(() => {});
    }
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

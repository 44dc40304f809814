/**
 * MySQL/MariaDB binlog capture (`@vlasky/zongji`) as a Source. On first start it snapshots the
 * captured tables, then streams the binlog from the snapshot's position; afterwards it resumes
 * from the position stored once the bus had confirmed it (GTIDs where the server has them, else
 * file and offset). Positions live in the hub's PostgreSQL, written only after the bus confirms.
 */
import ZongJi from "@vlasky/zongji";
import mysql from "mysql2/promise";
import { AsyncQueue } from "../../../lib/async_queue.ts";
import type { BucketColumns } from "../../../lib/access.ts";
import type { TableInfo } from "../../../lib/catalog.ts";
import { nowUs } from "../../../lib/envelope.ts";
import type { Logger } from "../../../lib/log.ts";
import { type PositionStore, ThrottledSaver } from "../../../lib/postgres/positions.ts";
import { PositionLostError, type Source, type SourceBatch, type SourceHealth } from "../source.ts";
import {
  BinlogDecoder,
  type BinlogEvent,
  type BinlogSpot,
  type ColumnOf,
  toEnvelopes,
} from "./decode.ts";
import { type BinlogCheckpoint, decodeCheckpoint, encodeCheckpoint } from "./position.ts";
import { loadMySqlTables } from "./catalog.ts";
import { capturedTables, type TableMeta, tableMeta } from "../../../lib/mysql/schema.ts";
import { readSnapshot } from "./snapshot.ts";
import { snapshotProgress } from "../snapshot_progress.ts";
import { checkServer } from "./setup.ts";

export interface BinlogSourceOptions {
  name: string;
  /** `mysql://user:password@host:port/database` */
  url: string;
  /** `db.table` names; unset: every table of the URL's database. */
  tables: readonly string[] | undefined;
  /** Each table's bucket column (the access policy's). */
  bucketColumns: BucketColumns;
  /** This replica's server id: unique among the server's replicas. */
  serverId: number;
  positions: PositionStore;
  log: Logger;
  /** Decoded changes held before the binlog socket is paused. */
  maxQueued?: number;
  /** Changes per part of a transaction (a transaction of any size streams in parts). */
  partSize?: number;
  /** `never`: a first start streams from the current binlog position without a snapshot. */
  snapshotMode?: "initial" | "never";
}

interface ZongJiEvent {
  getEventName(): string;
  gtid?: string;
  timestamp: number;
  query?: string;
  tableId?: number;
  tableMap?: Record<
    number,
    { parentSchema: string; tableName: string; columns: { name: string; type: number }[] }
  >;
  rows?: Record<string, unknown>[];
}

export class BinlogSource implements Source {
  readonly connector = "mysql" as const;
  readonly name: string;
  private streaming = false;
  private readonly saver: ThrottledSaver;
  private confirmedAt = Date.now();

  constructor(private readonly opts: BinlogSourceOptions) {
    this.name = opts.name;
    this.saver = new ThrottledSaver(
      opts.positions,
      opts.name,
      (err) => opts.log.warn("could not store the binlog position", { err }),
    );
  }

  ready(): boolean {
    return this.streaming;
  }

  confirm(checkpoint: string): Promise<void> {
    this.saver.save(checkpoint);
    this.confirmedAt = Date.now();
    return Promise.resolve();
  }

  health(): SourceHealth {
    return { confirmedAgeSeconds: Math.round((Date.now() - this.confirmedAt) / 1000) };
  }

  tables(): Promise<TableInfo[]> {
    return loadMySqlTables(this.opts, this.opts.bucketColumns);
  }

  async *stream(signal: AbortSignal): AsyncIterable<SourceBatch> {
    const { opts } = this;
    const server = connectionOptions(opts.url);
    const conn = await mysql.createConnection({
      ...server,
      dateStrings: true,
      timezone: "Z",
      supportBigNumbers: true,
    });
    conn.on("error", (err) => opts.log.warn("MySQL control connection failed", { err }));
    let zongji: ZongJi | undefined;
    try {
      const flavor = await checkServer(conn);
      const metas = new Map<string, TableMeta>();
      for (
        const t of await capturedTables(
          conn,
          opts.tables,
          "database" in server ? server.database : undefined,
        )
      ) {
        metas.set(`${t.db}.${t.table}`, await tableMeta(conn, t.db, t.table));
      }
      const ctx = {
        sourceName: opts.name,
        bucketColumn: (db: string, table: string) => {
          const meta = metas.get(`${db}.${table}`);
          return opts.bucketColumns(
            `${db}.${table}`,
            (c) => !!meta?.columns.some((x) => x.name === c),
          );
        },
        primaryKey: (db: string, table: string) => metas.get(`${db}.${table}`)?.primaryKey ?? [],
        now: nowUs,
      };

      let start: BinlogCheckpoint;
      const stored = await opts.positions.load(opts.name);
      if (stored) start = decodeCheckpoint(stored);
      else {
        opts.log.info("no stored binlog position: taking the initial snapshot", {
          tables: [...metas.keys()],
        });
        let last: string | null = null;
        const tables = opts.snapshotMode === "never" ? [] : [...metas.values()];
        const progress = snapshotProgress(opts.log);
        for await (const batch of readSnapshot(conn, flavor, tables, ctx, 5000, progress)) {
          if (signal.aborted) return;
          last = batch.checkpoint;
          yield batch;
        }
        start = decodeCheckpoint(last!);
      }

      zongji = new ZongJi({ ...server, dateStrings: true, timezone: "Z", supportBigNumbers: true });
      const z = zongji;
      const binlogSocket = () =>
        (z as unknown as { connection?: { pause(): void; resume(): void } }).connection;
      let paused = false;
      const queue = new AsyncQueue<SourceBatch>({
        highWater: opts.maxQueued ?? 1000,
        weigh: (b) => Math.max(1, b.envelopes.length),
        onDrain: () => {
          if (paused) binlogSocket()?.resume();
          paused = false;
        },
      });
      // Transactions leave in parts as their row events come; a part that is not the last one
      // has nothing to confirm yet. Past `maxQueued` changes the binlog socket pauses.
      const decoder = new BinlogDecoder({
        jsonColumns: (db, table) => metas.get(`${db}.${table}`)?.jsonColumns ?? new Set(),
      }, opts.partSize ?? 500);
      const push = (event: BinlogEvent) => {
        for (const part of decoder.push(event)) {
          const gtidSet = z.gtidSet ? String(z.gtidSet) : undefined;
          const checkpoint = part.commit === null
            ? null
            : encodeCheckpoint({ gtid: gtidSet, file: part.commit.file, pos: part.commit.pos });
          if (!queue.push({ envelopes: toEnvelopes(part, ctx), checkpoint })) {
            binlogSocket()?.pause();
            paused = true;
          }
        }
      };
      z.on("binlog", (raw) => {
        try {
          const event = fromZongji(raw as unknown as ZongJiEvent, z);
          if (event) push(event);
        } catch (err) {
          queue.fail(err);
        }
      });
      z.on("error", (err: Error) => queue.fail(explainBinlogError(err, opts.name)));
      z.on("ready", () => {
        this.streaming = true;
        opts.log.info("streaming the binlog", { from: start, tables: [...metas.keys()] });
      });
      const onAbort = () => queue.end();
      signal.addEventListener("abort", onAbort, { once: true });
      const include: Record<string, string[]> = {};
      for (const m of metas.values()) (include[m.db] ??= []).push(m.table);
      z.start({
        serverId: opts.serverId,
        includeEvents: [
          "tablemap",
          "writerows",
          "updaterows",
          "deleterows",
          "xid",
          "gtid",
          "mariadbgtid",
          "query",
        ],
        includeSchema: include,
        ...(start.gtid ? { gtidSet: start.gtid } : { filename: start.file, position: start.pos }),
      });
      try {
        for await (const batch of queue) yield batch;
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    } finally {
      this.streaming = false;
      zongji?.stop();
      await this.saver.flush();
      await conn.end().catch(() => {});
    }
  }
}

/** zongji's event as ours; undefined for events that carry nothing for us. */
function fromZongji(ev: ZongJiEvent, z: ZongJi): BinlogEvent | undefined {
  const name = ev.getEventName();
  switch (name) {
    case "gtid":
    case "mariadbgtid":
      return { kind: "begin", gtid: ev.gtid, ...spotOf(ev, z) };
    case "writerows":
    case "updaterows":
    case "deleterows": {
      const t = ev.tableMap![ev.tableId!]!;
      const columns: ColumnOf[] = t.columns.map((c) => ({ name: c.name, type: c.type }));
      const op = name === "writerows" ? "c" : name === "updaterows" ? "u" : "d";
      return {
        kind: "rows",
        op,
        db: t.parentSchema,
        table: t.tableName,
        columns,
        rows: ev.rows! as never,
        ...spotOf(ev, z),
      };
    }
    case "xid":
      return { kind: "commit", gtid: ev.gtid, ...spotOf(ev, z) };
    case "query":
      // Non-transactional tables commit with a COMMIT statement rather than an XID event.
      return /^\s*COMMIT\b/i.test(ev.query ?? "")
        ? { kind: "commit", gtid: ev.gtid, ...spotOf(ev, z) }
        : undefined;
    default:
      return undefined;
  }
}

/** Where zongji stands after this event: the binlog file, the offset after it, its time. */
function spotOf(ev: ZongJiEvent, z: ZongJi): BinlogSpot {
  const o = (z as unknown as { options: { filename: string; position: number } }).options;
  return { file: o.filename, pos: o.position, timestampMs: ev.timestamp };
}

export function connectionOptions(url: string) {
  const u = new URL(url);
  const database = u.pathname.replace(/^\//, "");
  return {
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    ...(database ? { database } : {}),
  };
}

/**
 * The server no longer has the binlog at our stored position (purged, or the GTIDs we need are
 * gone): changes were lost to SyncHub. Said plainly, with the way back — never skipped silently.
 */
export function explainBinlogError(err: Error, source: string): Error {
  const e = err as Error & { errno?: number; code?: string };
  if (
    e.errno === 1236 || e.code === "ER_MASTER_FATAL_ERROR_READING_BINLOG" ||
    /purged binary logs|could not find first log file|binlog truncated/i.test(e.message)
  ) {
    return new PositionLostError(
      `the binlog position stored for source "${source}" is no longer on the server ` +
        `(${e.message}): changes since were lost to SyncHub. To start afresh with a new snapshot: ` +
        `DELETE FROM synchub.source_positions WHERE source = '${source}', restart the listener, and ` +
        `have clients subscribe with snapshot: true. Keep binlogs longer than the listener may be ` +
        `down (binlog_expire_logs_seconds).`,
    );
  }
  return err;
}

/**
 * Binlog events → envelopes, without I/O. The source turns zongji's events into `BinlogEvent`s;
 * `BinlogDecoder` turns a transaction's row events into parts as they come; `toEnvelopes` makes
 * SPEC §2 envelopes of a part; lib/mysql/values.ts maps values (SPEC §2 value mapping).
 */
import {
  type Envelope,
  makeEnvelope,
  markerOrigin,
  pickKey,
  type Row,
  type SyncOrigin,
} from "../../../lib/envelope.ts";
import { type ColumnOf, mapRow } from "../../../lib/mysql/values.ts";
import { changePosition } from "./position.ts";

export { type ColumnOf, mapRow, mysqlValue } from "../../../lib/mysql/values.ts";

/** Where an event sits in the binlog: the file, the offset after it, and its timestamp. */
export interface BinlogSpot {
  readonly file: string;
  readonly pos: number;
  readonly timestampMs: number;
}

export type BinlogEvent =
  | ({ kind: "begin"; gtid: string | undefined } & BinlogSpot)
  | ({
    kind: "rows";
    op: "c" | "u" | "d";
    db: string;
    table: string;
    columns: readonly ColumnOf[];
    rows:
      | readonly Record<string, unknown>[]
      | readonly { before: Record<string, unknown>; after: Record<string, unknown> }[];
  } & BinlogSpot)
  | ({ kind: "commit"; gtid: string | undefined } & BinlogSpot);

export interface BinlogChange {
  readonly op: "c" | "u" | "d";
  readonly db: string;
  readonly table: string;
  readonly before: Row | null;
  readonly after: Row | null;
}

/** A transaction as its first event says. The binlog writes transactions whole, one after another, so
 * where one begins sorts in commit order like where it ends. */
export interface BinlogTxHeader {
  readonly gtid: string | undefined;
  readonly file: string;
  readonly pos: number;
  readonly timestampMs: number;
  /** Written by a SyncHub sync service (its marker row came first), else null. */
  origin: SyncOrigin | null;
}

export interface PlacedBinlogChange {
  readonly change: BinlogChange;
  readonly index: number;
  readonly tableOrder: number;
}

/** A part of a transaction; its last part carries where the commit ends (a resume point). */
export interface BinlogPart {
  readonly tx: BinlogTxHeader;
  readonly changes: readonly PlacedBinlogChange[];
  readonly commit: BinlogSpot | null;
}

export interface DecodeContext {
  /** JSON columns of a table that arrive as text (MariaDB). */
  jsonColumns(db: string, table: string): ReadonlySet<string>;
}

/**
 * Streams the binlog's transactions as they are decoded: their row events leave in parts of at
 * most `partSize` changes, so no transaction is ever held whole.
 */
export class BinlogDecoder {
  private tx:
    | {
      header: BinlogTxHeader;
      index: number;
      perTable: Map<string, number>;
      part: PlacedBinlogChange[];
    }
    | undefined;

  constructor(private readonly ctx: DecodeContext, private readonly partSize = 500) {}

  /** True between transactions. */
  get idle(): boolean {
    return this.tx === undefined;
  }

  /** Feeds one event; returns the parts it completed (full ones, or the committed rest). */
  push(event: BinlogEvent): BinlogPart[] {
    switch (event.kind) {
      case "begin":
        this.open(event, event.gtid);
        return [];
      case "rows": {
        if (!this.tx) this.open(event, undefined); // no GTID event: the rows begin it
        const json = this.ctx.jsonColumns(event.db, event.table);
        const row = (r: Record<string, unknown>) => mapRow(r, event.columns, json);
        const full: BinlogPart[] = [];
        for (const r of event.rows) {
          let change: BinlogChange;
          if (event.op === "u") {
            const { before, after } = r as {
              before: Record<string, unknown>;
              after: Record<string, unknown>;
            };
            change = {
              op: "u",
              db: event.db,
              table: event.table,
              before: row(before),
              after: row(after),
            };
          } else {
            const image = row(r as Record<string, unknown>);
            change = {
              op: event.op,
              db: event.db,
              table: event.table,
              before: event.op === "d" ? image : null,
              after: event.op === "c" ? image : null,
            };
          }
          const part = this.add(change);
          if (part) full.push(part);
        }
        return full;
      }
      case "commit": {
        const tx = this.tx;
        this.tx = undefined;
        if (!tx) return []; // a COMMIT of a transaction with no rows for us
        return [{ tx: tx.header, changes: tx.part, commit: event }];
      }
    }
  }

  private open(spot: BinlogSpot, gtid: string | undefined): void {
    this.tx = {
      header: { gtid, file: spot.file, pos: spot.pos, timestampMs: spot.timestampMs, origin: null },
      index: 0,
      perTable: new Map(),
      part: [],
    };
  }

  private add(change: BinlogChange): BinlogPart | null {
    const tx = this.tx!;
    tx.index++;
    if (tx.index === 1) {
      // A transaction the sync service wrote starts with its marker row: tag it, skip the row.
      const origin = markerOrigin(change.table, change.after);
      if (origin) {
        tx.header.origin = origin;
        return null;
      }
    }
    const table = `${change.db}.${change.table}`;
    const tableOrder = (tx.perTable.get(table) ?? 0) + 1;
    tx.perTable.set(table, tableOrder);
    tx.part.push({ change, index: tx.index, tableOrder });
    if (tx.part.length < this.partSize) return null;
    const full = tx.part;
    tx.part = [];
    return { tx: tx.header, changes: full, commit: null };
  }
}

export interface EnvelopeContext {
  readonly sourceName: string;
  /** A table's bucket column (the access policy's), or null. */
  bucketColumn(db: string, table: string): string | null;
  primaryKey(db: string, table: string): readonly string[];
  /** Microseconds since the epoch. */
  now(): number;
}

/** The envelopes of a part of a transaction. */
export function toEnvelopes(part: BinlogPart, ctx: EnvelopeContext): Envelope[] {
  const { tx } = part;
  const txId = tx.gtid ?? `${tx.file}:${tx.pos}`;
  const emittedUs = ctx.now();
  return part.changes.map(({ change: c, index, tableOrder }) => {
    const position = changePosition(tx.file, tx.pos, index);
    return makeEnvelope({
      id: `${ctx.sourceName}:${position}`,
      op: c.op,
      before: c.before,
      after: c.after,
      key: ctx.primaryKey(c.db, c.table),
      bucketColumn: ctx.bucketColumn(c.db, c.table),
      origin: {
        connector: "mysql",
        name: ctx.sourceName,
        db: c.db,
        schema: null,
        table: c.table,
        position,
        txId: tx.gtid ?? null,
        commitUs: tx.timestampMs * 1000,
        writer: tx.origin,
      },
      transaction: { id: txId, total_order: index, data_collection_order: tableOrder },
      emittedUs,
    });
  });
}

/** An `op:"r"` envelope for a row read by the initial snapshot, as of binlog `file:pos`. */
export function snapshotEnvelope(
  row: Row,
  where: {
    db: string;
    table: string;
    file: string;
    pos: number;
    primaryKey: readonly string[];
    tsMs: number;
    last?: boolean;
  },
  ctx: Pick<EnvelopeContext, "sourceName" | "bucketColumn" | "now">,
): Envelope {
  const position = changePosition(where.file, where.pos, 0);
  const key = pickKey(row, where.primaryKey);
  return makeEnvelope({
    id: `${ctx.sourceName}:snapshot:${position}:${where.db}.${where.table}:${JSON.stringify(key)}`,
    op: "r",
    before: null,
    after: row,
    key,
    bucketColumn: ctx.bucketColumn(where.db, where.table),
    origin: {
      connector: "mysql",
      name: ctx.sourceName,
      db: where.db,
      schema: null,
      table: where.table,
      position,
      txId: null,
      commitUs: where.tsMs * 1000,
      snapshot: where.last ? "last" : "true",
    },
    transaction: null,
    emittedUs: ctx.now(),
  });
}

/**
 * Binlog events → envelopes, without I/O. The source turns zongji's events into `BinlogEvent`s;
 * `BinlogAssembler` gathers a transaction's row events until its commit; `toEnvelopes` makes
 * SPEC §2 envelopes of it; `mysqlValue` maps values (SPEC §2 value mapping).
 */
import { type Envelope, makeEnvelope, pickKey, type Row } from "../../../lib/envelope.ts";
import { type ColumnOf, mapRow } from "../../../lib/mysql/values.ts";
import { changePosition } from "./position.ts";

export { type ColumnOf, mapRow, mysqlValue } from "../../../lib/mysql/values.ts";

export type BinlogEvent =
  | { kind: "begin"; gtid: string | undefined }
  | {
    kind: "rows";
    op: "c" | "u" | "d";
    db: string;
    table: string;
    columns: readonly ColumnOf[];
    rows:
      | readonly Record<string, unknown>[]
      | readonly { before: Record<string, unknown>; after: Record<string, unknown> }[];
  }
  | { kind: "commit"; gtid: string | undefined; file: string; pos: number; timestampMs: number };

export interface BinlogChange {
  readonly op: "c" | "u" | "d";
  readonly db: string;
  readonly table: string;
  readonly before: Row | null;
  readonly after: Row | null;
}

export interface BinlogTransaction {
  readonly gtid: string | undefined;
  readonly file: string;
  /** Where the commit ends: the offset a restart may resume from. */
  readonly pos: number;
  readonly timestampMs: number;
  readonly changes: readonly BinlogChange[];
}

export interface DecodeContext {
  /** JSON columns of a table that arrive as text (MariaDB). */
  jsonColumns(db: string, table: string): ReadonlySet<string>;
}

export class BinlogAssembler {
  private changes: BinlogChange[] = [];
  private open = false;

  constructor(private readonly ctx: DecodeContext) {}

  /** True between transactions. */
  get idle(): boolean {
    return !this.open;
  }

  push(event: BinlogEvent): BinlogTransaction | null {
    switch (event.kind) {
      case "begin":
        this.open = true;
        this.changes = [];
        return null;
      case "rows": {
        this.open = true;
        const json = this.ctx.jsonColumns(event.db, event.table);
        const row = (r: Record<string, unknown>) => mapRow(r, event.columns, json);
        for (const r of event.rows) {
          if (event.op === "u") {
            const { before, after } = r as {
              before: Record<string, unknown>;
              after: Record<string, unknown>;
            };
            this.changes.push({
              op: "u",
              db: event.db,
              table: event.table,
              before: row(before),
              after: row(after),
            });
          } else {
            const image = row(r as Record<string, unknown>);
            this.changes.push({
              op: event.op,
              db: event.db,
              table: event.table,
              before: event.op === "d" ? image : null,
              after: event.op === "c" ? image : null,
            });
          }
        }
        return null;
      }
      case "commit": {
        const tx = {
          gtid: event.gtid,
          file: event.file,
          pos: event.pos,
          timestampMs: event.timestampMs,
          changes: this.changes,
        };
        this.changes = [];
        this.open = false;
        return tx;
      }
    }
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

export function toEnvelopes(tx: BinlogTransaction, ctx: EnvelopeContext): Envelope[] {
  const perTable = new Map<string, number>();
  const txId = tx.gtid ?? `${tx.file}:${tx.pos}`;
  const emittedUs = ctx.now();
  return tx.changes.map((c, i) => {
    const tableKey = `${c.db}.${c.table}`;
    const tableOrder = (perTable.get(tableKey) ?? 0) + 1;
    perTable.set(tableKey, tableOrder);
    const position = changePosition(tx.file, tx.pos, i + 1);
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
      },
      transaction: { id: txId, total_order: i + 1, data_collection_order: tableOrder },
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

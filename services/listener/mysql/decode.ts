/**
 * Binlog events → envelopes, without I/O. The source turns zongji's events into `BinlogEvent`s;
 * `BinlogAssembler` gathers a transaction's row events until its commit; `toEnvelopes` makes
 * SPEC §2 envelopes of it; `mysqlValue` maps values (SPEC §2 value mapping).
 */
import { Buffer } from "node:buffer";
import {
  type Envelope,
  type JsonValue,
  makeEnvelope,
  pickKey,
  type Row,
} from "../../../lib/envelope.ts";
import { changePosition } from "./position.ts";

/** MySQL column type codes (binlog TABLE_MAP), the ones whose values need mapping. */
const TYPE = {
  TIMESTAMP: 7,
  DATE: 10,
  DATETIME: 12,
  NEWDATE: 14,
  BIT: 16,
  TIMESTAMP2: 17,
  DATETIME2: 18,
};

export interface ColumnOf {
  readonly name: string;
  readonly type: number;
}

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

export function mapRow(
  r: Record<string, unknown>,
  columns: readonly ColumnOf[],
  json: ReadonlySet<string>,
): Row {
  const types = new Map(columns.map((c) => [c.name, c.type]));
  const row: Row = {};
  for (const [name, v] of Object.entries(r)) {
    if (v === undefined) continue;
    row[name] = mysqlValue(v, types.get(name) ?? -1, json.has(name));
  }
  return row;
}

/**
 * A binlog or query value as an envelope value: big integers and decimals (strings already) stay
 * strings, binary becomes base64, DATETIME an ISO-8601 local time, TIMESTAMP an ISO-8601 UTC
 * instant, MariaDB's JSON text parsed. Expects zongji/mysql2 with `dateStrings` and UTC.
 */
export function mysqlValue(v: unknown, type: number, isJson = false): JsonValue {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Uint8Array) {
    if (type === TYPE.BIT) return bitValue(v);
    return Buffer.from(v).toString("base64");
  }
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) return null;
    const iso = v.toISOString();
    return type === TYPE.DATE || type === TYPE.NEWDATE
      ? iso.slice(0, 10)
      : isUtc(type)
      ? iso
      : iso.slice(0, -1);
  }
  if (typeof v === "string") {
    if (isJson) {
      try {
        return JSON.parse(v);
      } catch {
        return v;
      }
    }
    if (isUtc(type)) return `${v.replace(" ", "T")}Z`;
    if (type === TYPE.DATETIME || type === TYPE.DATETIME2) return v.replace(" ", "T");
    return v;
  }
  if (typeof v === "number") return Number.isFinite(v) ? v : String(v);
  if (typeof v === "boolean") return v;
  return v as JsonValue; // MySQL JSON columns: already parsed JSON values
}

function isUtc(type: number): boolean {
  return type === TYPE.TIMESTAMP || type === TYPE.TIMESTAMP2;
}

function bitValue(bytes: Uint8Array): JsonValue {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
}

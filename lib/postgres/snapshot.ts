/**
 * Snapshots of a table's current rows as `op:"r"` envelopes, read in one REPEATABLE READ
 * transaction. The transaction's snapshot (xmin, xmax, in-progress xids) says exactly which
 * transactions the rows include, so a subscriber can join the live stream without a gap or a
 * duplicate: a live change is already in the snapshot iff its transaction is visible to it.
 */
import type { BucketGrant } from "../buckets.ts";
import { bucketValue } from "../buckets.ts";
import type { Envelope, Row } from "../envelope.ts";
import type { TableInfo } from "./catalog.ts";
import type { Pool } from "./pool.ts";
import { quoteIdent, quoteQualified } from "./pool.ts";

export interface SnapshotVisibility {
  /** True when the transaction `txId` (a 32-bit xid, as in envelopes) is in the snapshot. */
  includes(txId: string | null): boolean;
}

export interface SnapshotReader {
  /** Calls `onRows` with the rows in key order, in batches; resolves with what the snapshot saw. */
  read(
    table: TableInfo,
    grant: BucketGrant,
    onRows: (envelopes: Envelope[]) => Promise<void>,
  ): Promise<SnapshotVisibility>;
}

/** Parses `pg_current_snapshot()` text, `xmin:xmax:xip,xip,…`, into a visibility test. */
export function snapshotVisibility(text: string): SnapshotVisibility {
  const [xmin, xmax, list] = text.split(":");
  const min = BigInt(xmin!), max = BigInt(xmax!);
  const running = new Set((list ?? "").split(",").filter(Boolean).map(BigInt));
  return {
    includes(txId) {
      if (txId === null || !/^\d+$/.test(txId)) return false;
      // Envelopes carry 32-bit xids; widen with the epoch of xmax (it is at most 2^31 behind).
      const epoch = max >> 32n;
      let xid = (epoch << 32n) | BigInt(txId);
      if (xid > max + (1n << 31n)) xid -= 1n << 32n;
      if (xid < min) return true;
      if (xid >= max) return false;
      return !running.has(xid);
    },
  };
}

export class PgSnapshotReader implements SnapshotReader {
  constructor(
    private readonly pool: Pool,
    private readonly sourceName: string,
    private readonly bucketColumn: string,
    private readonly batchSize = 2000,
  ) {}

  async read(
    table: TableInfo,
    grant: BucketGrant,
    onRows: (envelopes: Envelope[]) => Promise<void>,
  ): Promise<SnapshotVisibility> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      const { rows: [info] } = await client.query<
        { snapshot: string; db: string; lsn: string; ts: string }
      >(
        `SELECT pg_current_snapshot()::text AS snapshot, current_database() AS db,
                pg_current_wal_lsn()::text AS lsn, (extract(epoch FROM now()) * 1000)::bigint::text AS ts`,
      );
      const columns = table.columns.map((c) => quoteIdent(c.name)).join(", ");
      const order = table.primaryKey.length
        ? ` ORDER BY ${table.primaryKey.map(quoteIdent).join(", ")}`
        : "";
      const params: unknown[] = [];
      let where = "";
      if (table.bucketColumn && !grant.all) {
        params.push([...grant.buckets]);
        where = ` WHERE ${quoteIdent(table.bucketColumn)} IS NULL OR ${
          quoteIdent(table.bucketColumn)
        }::text = ANY($1::text[])`;
      }
      await client.query(
        `DECLARE synchub_snapshot NO SCROLL CURSOR FOR SELECT ${columns} FROM ${
          quoteQualified(table.schema, table.name)
        }${where}${order}`,
        params,
      );
      const position = `${lsnHex(info!.lsn)}:0000000000`;
      const tsMs = Number(info!.ts);
      for (;;) {
        const { rows } = await client.query<Row>(`FETCH ${this.batchSize} FROM synchub_snapshot`);
        if (rows.length === 0) break;
        await onRows(rows.map((row) => this.envelope(table, row, info!.db, position, tsMs)));
        if (rows.length < this.batchSize) break;
      }
      await client.query("COMMIT");
      return snapshotVisibility(info!.snapshot);
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  private envelope(
    table: TableInfo,
    row: Row,
    db: string,
    position: string,
    tsMs: number,
  ): Envelope {
    const key: Row = {};
    for (const c of table.primaryKey) key[c] = row[c]!;
    return {
      id: `${this.sourceName}:snapshot:${position}:${JSON.stringify(key)}`,
      op: "r",
      before: null,
      after: row,
      key,
      changed: null,
      bucket: table.bucketColumn ? bucketValue(row[this.bucketColumn]) : null,
      source: {
        connector: "postgres",
        name: this.sourceName,
        db,
        schema: table.schema,
        table: table.name,
        position,
        txId: null,
        ts_ms: tsMs,
        snapshot: true,
      },
      transaction: null,
      ts_ms: Date.now(),
    };
  }
}

function lsnHex(lsn: string): string {
  const [hi, lo] = lsn.split("/");
  return ((BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`)).toString(16).toUpperCase().padStart(
    16,
    "0",
  );
}

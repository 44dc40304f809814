/**
 * PostgreSQL snapshots: a table's current rows as `op:"r"` envelopes, read in one REPEATABLE READ
 * transaction whose `pg_current_snapshot()` is the visibility (lib/snapshot.ts). The access scope
 * and equality filters are part of the query, so a reader never fetches rows it may not see.
 */
import type { Catalog } from "../catalog.ts";
import { type Envelope, makeEnvelope, nowUs, pickKey, type Row } from "../envelope.ts";
import { SyncError } from "../errors.ts";
import type { SnapshotReader, SnapshotRequest, Visibility } from "../snapshot.ts";
import type { Pool } from "./pool.ts";
import { quoteIdent, selectInKeyOrder } from "./pool.ts";

export interface PgSnapshotOptions {
  sourceName: string;
  /** The source's catalog: which tables may be read, with their columns. */
  catalog: () => Promise<Catalog>;
  batchSize?: number;
}

export class PgSnapshotReader implements SnapshotReader {
  constructor(private readonly pool: Pool, private readonly opts: PgSnapshotOptions) {}

  async read(
    request: SnapshotRequest,
    onRows: (envelopes: Envelope[]) => Promise<void>,
    signal?: AbortSignal,
  ): Promise<Visibility> {
    const table = (await this.opts.catalog()).get(request.table);
    if (!table || table.qualified !== request.table) {
      throw new SyncError("not_found", `unknown table "${request.table}"`);
    }
    const params: unknown[] = [];
    const conditions: string[] = [];
    const { scope, bucketColumn } = request;
    if (!scope.all) {
      // No bucket column: a scope short of `all` holds no row of the table.
      if (!bucketColumn || !table.column.has(bucketColumn)) return emptyVisibility(this.pool);
      const b = quoteIdent(bucketColumn);
      params.push([...scope.buckets]);
      conditions.push(
        `(${b}::text = ANY($${params.length}::text[])${
          scope.nullBucket ? ` OR ${b} IS NULL` : ""
        })`,
      );
    }
    for (const [name, value] of Object.entries(request.equalities ?? {})) {
      const column = table.column.get(name);
      // Only columns whose text form is the JSON value's: the caller re-checks every row anyway.
      if (!column || value === null || typeof value === "object") continue;
      if (!["string", "uuid", "integer", "bigint", "boolean", "enum"].includes(column.kind)) {
        continue;
      }
      params.push(String(value));
      conditions.push(`${quoteIdent(name)}::text = $${params.length}`);
    }
    // The reason (host, port, credentials) is not for clients.
    const client = await this.pool.connect().catch(() => {
      throw new SyncError("unavailable", "the snapshot database is unreachable; retry later");
    });
    try {
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      const { rows: [info] } = await client.query<
        { snapshot: string; db: string; lsn: string; us: string }
      >(
        `SELECT pg_current_snapshot()::text AS snapshot, current_database() AS db,
                pg_current_wal_lsn()::text AS lsn,
                (extract(epoch FROM now()) * 1000000)::bigint::text AS us`,
      );
      await client.query(
        `DECLARE synchub_snapshot NO SCROLL CURSOR FOR ${
          selectInKeyOrder(table, conditions.join(" AND "))
        }`,
        params,
      );
      const origin = {
        connector: "postgresql" as const,
        name: this.opts.sourceName,
        db: info!.db,
        schema: table.schema,
        table: table.name,
        position: `${lsnHex(info!.lsn)}:0000000000`,
        txId: null,
        commitUs: Number(info!.us),
        snapshot: "true" as const,
      };
      const batch = this.opts.batchSize ?? 2000;
      for (;;) {
        if (signal?.aborted) throw signal.reason;
        const { rows } = await client.query<Row>(`FETCH ${batch} FROM synchub_snapshot`);
        if (rows.length === 0) break;
        const emittedUs = nowUs();
        await onRows(rows.map((row) => {
          const key = pickKey(row, table.primaryKey);
          return makeEnvelope({
            id: `${this.opts.sourceName}:snapshot:${origin.position}:${JSON.stringify(key)}`,
            op: "r",
            before: null,
            after: row,
            key,
            bucketColumn: table.bucketColumn,
            origin,
            transaction: null,
            emittedUs,
          });
        }));
        if (rows.length < batch) break;
      }
      await client.query("COMMIT");
      return { kind: "xid", snapshot: info!.snapshot };
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }
}

function lsnHex(lsn: string): string {
  const [hi, lo] = lsn.split("/");
  return ((BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`)).toString(16).toUpperCase().padStart(
    16,
    "0",
  );
}

/** The visibility of a read that returns no rows: now, as a snapshot would have it. */
async function emptyVisibility(pool: Pool): Promise<Visibility> {
  const { rows: [r] } = await pool.query<{ s: string }>("SELECT pg_current_snapshot()::text AS s");
  return { kind: "xid", snapshot: r!.s };
}

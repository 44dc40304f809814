/**
 * One bucket's rows across several tables as of one instant: a single REPEATABLE READ READ ONLY
 * transaction reads every table, so a checkpoint (or a bucket download) never mixes two moments.
 * Its `pg_current_snapshot()` is the visibility (lib/snapshot.ts), taken before any row is read.
 * Rows are fetched in batches through a cursor and handed on one batch at a time (backpressure):
 * a table is never held in memory.
 */
import type { TableInfo } from "../catalog.ts";
import type { Row } from "../envelope.ts";
import { SyncError } from "../errors.ts";
import type { Visibility } from "../snapshot.ts";
import { fromPgError } from "./errors.ts";
import { type Pool, quoteIdent, selectInKeyOrder } from "./pool.ts";

export interface BucketTable {
  readonly table: TableInfo;
  /** The column naming each row's bucket, as the access policy says. */
  readonly bucketColumn: string;
}

export interface BucketReadHandlers {
  /** The snapshot is taken: what it includes, and its instant (ISO-8601). Before any rows. */
  start(visibility: Visibility, takenAt: string): Promise<void> | void;
  /** A table's rows are about to be read. */
  table?(table: TableInfo): Promise<void> | void;
  /** A batch of rows of one table, in key order; the next batch waits for it. */
  rows(table: TableInfo, rows: Row[]): Promise<void> | void;
}

export async function readBucket(
  pool: Pool,
  request: { tables: readonly BucketTable[]; bucket: string; batchSize?: number },
  handlers: BucketReadHandlers,
  signal?: AbortSignal,
): Promise<Visibility> {
  // The reason (host, port, credentials) is not for clients.
  const client = await pool.connect().catch(() => {
    throw new SyncError("unavailable", "the database is unreachable; retry later");
  });
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    // The first statement fixes the transaction's snapshot: this one reports it.
    const { rows: [info] } = await client.query<{ snapshot: string; at: string }>(
      `SELECT pg_current_snapshot()::text AS snapshot, to_json(now())#>>'{}' AS at`,
    );
    const visibility: Visibility = { kind: "xid", snapshot: info!.snapshot };
    await handlers.start(visibility, info!.at);
    const batch = request.batchSize ?? 5000;
    for (const { table, bucketColumn } of request.tables) {
      await handlers.table?.(table);
      await client.query(
        `DECLARE synchub_bucket NO SCROLL CURSOR FOR ${
          selectInKeyOrder(table, `${quoteIdent(bucketColumn)}::text = $1`)
        }`,
        [request.bucket],
      );
      for (;;) {
        if (signal?.aborted) throw signal.reason;
        const { rows } = await client.query<Row>(`FETCH ${batch} FROM synchub_bucket`);
        if (rows.length > 0) await handlers.rows(table, rows);
        if (rows.length < batch) break;
      }
      await client.query("CLOSE synchub_bucket");
    }
    await client.query("COMMIT");
    return visibility;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err instanceof SyncError || signal?.aborted ? err : fromPgError(err);
  } finally {
    client.release();
  }
}

/**
 * The initial snapshot of a WAL source (SPEC §11, `SNAPSHOT_MODE=initial`): a new slot is created
 * on a replication connection that exports its snapshot — the database exactly as of the slot's
 * consistent point — and every captured row is read in a transaction that imports it. Changes
 * committed before that point are in the snapshot, those after it in the slot: no gap, no double.
 * Rows stream through a cursor in batches; one batch is held back so the snapshot's last row can
 * be marked `snapshot: "last"`.
 */
import pg from "pg";
import type { TableInfo } from "../../../lib/catalog.ts";
import { type Envelope, makeEnvelope, nowUs, pickKey, type Row } from "../../../lib/envelope.ts";
import type { Pool } from "../../../lib/postgres/pool.ts";
import { quoteIdent, selectInKeyOrder } from "../../../lib/postgres/pool.ts";
import type { SourceBatch } from "../source.ts";
import { changePosition, formatLsn, parseLsn } from "./position.ts";

/** A slot just created with its snapshot exported; the export lives while `close` is not called. */
export interface ExportedSlot {
  readonly consistentPoint: string;
  readonly snapshotName: string;
  close(): Promise<void>;
}

/** Creates the logical slot on a replication connection, exporting its snapshot. */
export async function createExportingSlot(url: string, slot: string): Promise<ExportedSlot> {
  const conn = new pg.Client({
    connectionString: url,
    application_name: "synchub-snapshot-export",
    replication: "database",
  } as pg.ClientConfig);
  conn.on("error", () => {}); // a failure shows as the snapshot's import failing
  await conn.connect();
  try {
    const { rows: [created] } = await conn.query<
      { consistent_point: string; snapshot_name: string }
    >(`CREATE_REPLICATION_SLOT ${quoteIdent(slot)} LOGICAL pgoutput EXPORT_SNAPSHOT`);
    let closing: Promise<void> | undefined;
    return {
      consistentPoint: created!.consistent_point,
      snapshotName: created!.snapshot_name,
      close: () => closing ??= conn.end().catch(() => {}),
    };
  } catch (err) {
    await conn.end().catch(() => {});
    throw err;
  }
}

export interface SnapshotContext {
  readonly sourceName: string;
  readonly db: string;
  /** How many rows have been read, as they are: for progress output. */
  readonly onProgress?: (table: string, rows: number) => void;
}

/**
 * Every row of `tables` as `op:"r"` envelopes, read as of the exported snapshot. The last batch
 * carries the consistent point as its checkpoint: once it is on the bus, streaming may confirm it.
 */
export async function* readInitialSnapshot(
  pool: Pool,
  exported: ExportedSlot,
  tables: readonly TableInfo[],
  ctx: SnapshotContext,
  batchSize = 2000,
): AsyncIterable<SourceBatch> {
  const client = await pool.connect();
  const lsn = parseLsn(exported.consistentPoint);
  const position = changePosition(lsn, 0);
  let held: Envelope[] = [];
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    await client.query(`SET TRANSACTION SNAPSHOT '${exported.snapshotName.replace(/'/g, "''")}'`);
    // The transaction holds the snapshot now: the slot's connection may go.
    await exported.close();
    const { rows: [now] } = await client.query<{ us: string }>(
      "SELECT (extract(epoch FROM now()) * 1000000)::bigint::text AS us",
    );
    const commitUs = Number(now!.us);
    for (const table of tables) {
      await client.query(`DECLARE synchub_initial NO SCROLL CURSOR FOR ${selectInKeyOrder(table)}`);
      let read = 0;
      for (;;) {
        const { rows } = await client.query<Row>(`FETCH ${batchSize} FROM synchub_initial`);
        if (rows.length === 0) break;
        const emittedUs = nowUs();
        const envelopes = rows.map((row) => {
          const key = pickKey(row, table.primaryKey);
          return makeEnvelope({
            id: `${ctx.sourceName}:snapshot:${position}:${JSON.stringify(key)}`,
            op: "r",
            before: null,
            after: row,
            key,
            bucketColumn: table.bucketColumn,
            origin: {
              connector: "postgresql",
              name: ctx.sourceName,
              db: ctx.db,
              schema: table.schema,
              table: table.name,
              position,
              txId: null,
              commitUs,
              snapshot: "true",
            },
            transaction: null,
            emittedUs,
          });
        });
        if (held.length) yield { envelopes: held, checkpoint: null };
        held = envelopes;
        read += rows.length;
        ctx.onProgress?.(table.qualified, read);
        if (rows.length < batchSize) break;
      }
      await client.query("CLOSE synchub_initial");
    }
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
    await exported.close();
  }
  const last = held.pop();
  if (last) held.push({ ...last, source: { ...last.source, snapshot: "last" } });
  yield { envelopes: held, checkpoint: formatLsn(lsn) };
}

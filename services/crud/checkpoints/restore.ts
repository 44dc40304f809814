/**
 * Restoring a checkpoint (SPEC §10): the bucket is rewritten to the checkpoint's state as
 * ordinary writes through the row store — versions advance, and subscribers see each change
 * like any other. Only data differences are written and counted: a row equal to its checkpoint
 * image (apart from `version` and `updated_at`, which the store manages) is left alone.
 *
 * Memory stays bounded: the checkpoint's rows go to a temporary table first; then the bucket's
 * current rows are read in batches, each matched against (and removed from) it — a match that
 * differs is updated, a row without one deleted — and what remains is inserted.
 */
import type { TableInfo } from "../../../lib/catalog.ts";
import { pickKey, type Row } from "../../../lib/envelope.ts";
import { SyncError } from "../../../lib/errors.ts";
import type { BucketTable } from "../../../lib/postgres/bucket_reader.ts";
import {
  type Pool,
  type PoolClient,
  quoteIdent,
  quoteQualified,
  withTransaction,
} from "../../../lib/postgres/pool.ts";
import { UPDATED_AT_COLUMN, VERSION_COLUMN, type WriteOp } from "../rows/row_store.ts";
import { readCheckpointFile } from "./file.ts";

/** Carries out one batch of writes (the row store's `write`, as an admin). */
export type WriteRows = (table: TableInfo, ops: readonly WriteOp[]) => Promise<unknown>;

export interface RestoreCounts {
  inserted: number;
  updated: number;
  deleted: number;
}

const BATCH = 500;

export async function restoreCheckpoint(
  deps: { pool: Pool; write: WriteRows },
  checkpoint: { path: string; bucket: string; tables: readonly BucketTable[] },
  dryRun: boolean,
): Promise<RestoreCounts> {
  for (const { table } of checkpoint.tables) {
    if (table.primaryKey.length === 0) {
      throw new SyncError(
        "bad_request",
        `${table.qualified} has no primary key: rows cannot be restored`,
      );
    }
  }
  const counts: RestoreCounts = { inserted: 0, updated: 0, deleted: 0 };
  return await withTransaction(deps.pool, async (client) => {
    await client.query(`CREATE TEMP TABLE synchub_restore (tbl text, k text, row text,
      PRIMARY KEY (tbl, k)) ON COMMIT DROP`);
    await stage(client, checkpoint);
    const apply = async (table: TableInfo, ops: WriteOp[]) => {
      if (!dryRun && ops.length > 0) await writeWithMoves(deps.write, table, ops);
    };
    for (const { table, bucketColumn } of checkpoint.tables) {
      await compareCurrent(client, table, bucketColumn, checkpoint.bucket, counts, apply);
      await insertRemaining(client, table, counts, apply);
    }
    return counts;
  });
}

/** The checkpoint's rows of the tables being restored, into the temporary table. */
async function stage(
  client: PoolClient,
  checkpoint: { path: string; tables: readonly BucketTable[] },
): Promise<void> {
  const tables = new Map(checkpoint.tables.map((t) => [t.table.qualified, t.table]));
  let batch: [string, string, string][] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    await client.query(
      "INSERT INTO synchub_restore SELECT * FROM unnest($1::text[], $2::text[], $3::text[])",
      [batch.map((b) => b[0]), batch.map((b) => b[1]), batch.map((b) => b[2])],
    );
    batch = [];
  };
  for await (const line of readCheckpointFile(checkpoint.path)) {
    if (!("row" in line)) continue; // the header
    const table = tables.get(line.table);
    if (!table) continue;
    batch.push([line.table, keyText(table, line.row), JSON.stringify(line.row)]);
    if (batch.length >= BATCH) await flush();
  }
  await flush();
}

/** The bucket's rows now: unchanged ones are left, changed ones updated, extra ones deleted. */
async function compareCurrent(
  client: PoolClient,
  table: TableInfo,
  bucketColumn: string,
  bucket: string,
  counts: RestoreCounts,
  apply: (table: TableInfo, ops: WriteOp[]) => Promise<void>,
): Promise<void> {
  const columns = table.columns.map((c) => quoteIdent(c.name)).join(", ");
  await client.query(
    `DECLARE synchub_current NO SCROLL CURSOR FOR SELECT ${columns} FROM ${
      quoteQualified(table.schema, table.name)
    } WHERE ${quoteIdent(bucketColumn)}::text = $1`,
    [bucket],
  );
  for (;;) {
    const { rows } = await client.query<Row>(`FETCH ${BATCH} FROM synchub_current`);
    if (rows.length === 0) break;
    const { rows: saved } = await client.query<{ k: string; row: string }>(
      "DELETE FROM synchub_restore WHERE tbl = $1 AND k = ANY($2::text[]) RETURNING k, row",
      [table.qualified, rows.map((r) => keyText(table, r))],
    );
    const images = new Map(saved.map((s) => [s.k, JSON.parse(s.row) as Row]));
    const ops: WriteOp[] = [];
    for (const current of rows) {
      const key = pickKey(current, table.primaryKey);
      const image = images.get(keyText(table, current));
      if (!image) {
        ops.push({ op: "delete", key, expectedVersion: undefined });
        counts.deleted++;
      } else if (differs(table, current, image)) {
        ops.push({
          op: "update",
          key,
          values: writable(table, image, false),
          mode: "patch",
          expectedVersion: undefined,
        });
        counts.updated++;
      }
    }
    await apply(table, ops);
  }
  await client.query("CLOSE synchub_current");
}

/** Rows of the checkpoint the bucket no longer has. */
async function insertRemaining(
  client: PoolClient,
  table: TableInfo,
  counts: RestoreCounts,
  apply: (table: TableInfo, ops: WriteOp[]) => Promise<void>,
): Promise<void> {
  await client.query(
    "DECLARE synchub_missing NO SCROLL CURSOR FOR SELECT row FROM synchub_restore WHERE tbl = $1",
    [table.qualified],
  );
  for (;;) {
    const { rows } = await client.query<{ row: string }>(`FETCH ${BATCH} FROM synchub_missing`);
    if (rows.length === 0) break;
    const ops: WriteOp[] = rows.map((r) => ({
      op: "insert",
      values: writable(table, JSON.parse(r.row), true),
    }));
    counts.inserted += ops.length;
    await apply(table, ops);
  }
  await client.query("CLOSE synchub_missing");
}

/**
 * Writes a batch; an insert whose key exists (the row moved to another bucket since) becomes an
 * update that moves it back, and the batch is tried again.
 */
async function writeWithMoves(write: WriteRows, table: TableInfo, ops: WriteOp[]): Promise<void> {
  for (let attempt = 0; attempt <= ops.length; attempt++) {
    try {
      await write(table, ops);
      return;
    } catch (err) {
      const index = (err as SyncError).details as { index?: number } | undefined;
      const at = ops.length === 1 ? 0 : index?.index;
      const op = at === undefined ? undefined : ops[at];
      if (!(err instanceof SyncError) || err.code !== "conflict" || op?.op !== "insert") throw err;
      ops[at!] = {
        op: "update",
        key: pickKey(op.values, table.primaryKey),
        values: writable(table, op.values, false),
        mode: "patch",
        expectedVersion: undefined,
      };
    }
  }
}

/** The key as text: the same JSON for a row read now and its checkpoint image. */
function keyText(table: TableInfo, row: Row): string {
  return JSON.stringify(table.primaryKey.map((c) => row[c] ?? null));
}

const managed = (table: TableInfo, column: string) =>
  column === VERSION_COLUMN || column === UPDATED_AT_COLUMN ||
  table.column.get(column)?.readOnly === true;

/** Do two images of a row differ in data (not in the columns the store manages)? */
export function differs(table: TableInfo, current: Row, image: Row): boolean {
  return table.columns.some((c) =>
    !managed(table, c.name) && Object.hasOwn(image, c.name) &&
    JSON.stringify(current[c.name] ?? null) !== JSON.stringify(image[c.name])
  );
}

/** The columns of an image the store may write: today's columns, not managed, key only on insert. */
export function writable(table: TableInfo, image: Row, insert: boolean): Row {
  const out: Row = {};
  for (const [c, v] of Object.entries(image)) {
    if (!table.column.has(c) || managed(table, c)) continue;
    if (!insert && table.primaryKey.includes(c)) continue;
    out[c] = v;
  }
  return out;
}

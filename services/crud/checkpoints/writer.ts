/**
 * Writing one checkpoint's file: one snapshot of the bucket's tables (lib/postgres/bucket_reader.ts)
 * streamed into gzip NDJSON, its header carrying the cursor — the bus offsets taken before the
 * snapshot, with the snapshot's visibility. It runs in a process of its own (writer_main.ts), so
 * the garbage of a million decoded rows never swells the API's heap; what it reports is a
 * message per step.
 */
import { tableInfo, type TableRecord } from "../../../lib/catalog.ts";
import { encodePosition, type Offsets } from "../../../lib/cursor.ts";
import { type BucketTable, readBucket } from "../../../lib/postgres/bucket_reader.ts";
import type { Pool } from "../../../lib/postgres/pool.ts";
import { CheckpointFileWriter } from "./file.ts";

/** What the writer needs to know, sent by the CRUD service. */
export interface WriteJob {
  id: string;
  bucket: string;
  /** The tables as the service's catalog has them, with the bucket column the policy gives. */
  tables: { table: TableRecord; bucketColumn: string }[];
  path: string;
  /** The bus position taken before the snapshot. */
  epoch: string;
  offsets: Record<string, Offsets>;
  /** How often progress is reported. */
  progressEveryMs: number;
}

export type WriterMessage =
  | { type: "started"; cursor: string; created_at: string }
  | {
    type: "progress";
    rows: number;
    bytes: number;
    ndjson_bytes: number;
    tables_done: number;
    table: string | null;
  }
  | { type: "done"; rows: number; bytes: number; ndjson_bytes: number }
  | { type: "failed"; message: string };

export async function writeCheckpoint(
  pool: Pool,
  tables: readonly BucketTable[],
  job: WriteJob,
  report: (m: WriterMessage) => Promise<void> | void,
  signal?: AbortSignal,
): Promise<void> {
  const file = new CheckpointFileWriter(job.path);
  try {
    let rows = 0, tablesDone = -1, table: string | null = null, reportedAt = Date.now();
    const progress = () =>
      report({
        type: "progress",
        rows,
        bytes: file.bytes,
        ndjson_bytes: file.ndjsonBytes,
        tables_done: Math.max(0, tablesDone),
        table,
      });
    await readBucket(pool, { tables, bucket: job.bucket, batchSize: 1000 }, {
      start: async (visibility, takenAt) => {
        const cursor = encodePosition({ epoch: job.epoch, offsets: job.offsets, visibility });
        await file.header({
          checkpoint: job.id,
          cursor,
          tables: tables.map((t) => t.table.qualified),
        });
        await report({ type: "started", cursor, created_at: takenAt });
      },
      table: async (t) => {
        tablesDone++;
        table = t.qualified;
        await progress();
      },
      rows: async (t, batch) => {
        await file.rows(t.qualified, batch);
        rows += batch.length;
        if (Date.now() - reportedAt >= job.progressEveryMs) {
          reportedAt = Date.now();
          await progress();
        }
      },
    }, signal);
    const bytes = await file.finish();
    await report({ type: "done", rows, bytes, ndjson_bytes: file.ndjsonBytes });
  } catch (err) {
    await file.abandon();
    throw err;
  }
}

/** The job's tables, as the service described them. */
export function jobTables(job: Pick<WriteJob, "tables">): BucketTable[] {
  return job.tables.map((t) => ({ table: tableInfo(t.table), bucketColumn: t.bucketColumn }));
}

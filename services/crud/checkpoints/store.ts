/**
 * Checkpoints' metadata in the hub database (their rows are files, see file.ts): status, counts
 * while they are written and once ready, the cursor, and which are past their retention.
 */
import { UUID } from "../../../lib/uuid.ts";
import { SyncError } from "../../../lib/errors.ts";
import { fromPgError } from "../../../lib/postgres/errors.ts";
import type { Pool } from "../../../lib/postgres/pool.ts";

export type CheckpointStatus = "pending" | "ready" | "failed";

export interface CheckpointProgress {
  tables_done: number;
  tables_total: number;
  /** The table being read. */
  table: string | null;
}

export interface Checkpoint {
  id: string;
  bucket: string;
  tables: string[];
  status: CheckpointStatus;
  /** Rows written: so far while pending, all of them once ready. */
  rows: number;
  /** Size of the gzip file: so far while pending. */
  bytes: number;
  /** Size of its NDJSON uncompressed (what a download without gzip sends). */
  ndjson_bytes: number;
  cursor: string | null;
  /** The instant the rows are of; null until the snapshot is taken. */
  created_at: string | null;
  requested_at: string;
  completed_at: string | null;
  progress: CheckpointProgress | null;
  error: string | null;
  scheduled: boolean;
}

/** How long checkpoints are kept: the newest `count` of each bucket, or those younger than `ms`. */
export type Retention = { count: number } | { ms: number };

const time = (c: string) => `to_json(${c})#>>'{}' AS ${c}`;
const COLUMNS = `id, bucket, tables, status, rows::float8 AS rows, bytes::float8 AS bytes,
  ndjson_bytes::float8 AS ndjson_bytes, cursor, ${time("created_at")}, ${time("requested_at")},
  ${time("completed_at")}, progress, error, scheduled`;

export class CheckpointStore {
  constructor(private readonly pool: Pool) {}

  async create(c: {
    id: string;
    bucket: string;
    tables: string[];
    createdBy: string;
    scheduled: boolean;
  }): Promise<Checkpoint> {
    const [row] = await this.query<Checkpoint>(
      `INSERT INTO synchub.checkpoints (id, bucket, tables, status, created_by, scheduled, progress)
       VALUES ($1, $2, $3, 'pending', $4, $5, $6) RETURNING ${COLUMNS}`,
      [
        c.id,
        c.bucket,
        c.tables,
        c.createdBy,
        c.scheduled,
        JSON.stringify({ tables_done: 0, tables_total: c.tables.length, table: null }),
      ],
    );
    return row!;
  }

  async get(id: string): Promise<Checkpoint | undefined> {
    if (!UUID.test(id)) return undefined;
    const [row] = await this.query<Checkpoint>(
      `SELECT ${COLUMNS} FROM synchub.checkpoints WHERE id = $1`,
      [id],
    );
    return row;
  }

  /** Newest first; of one bucket, or of all. */
  async list(bucket?: string, limit = 1000): Promise<Checkpoint[]> {
    return await this.query<Checkpoint>(
      `SELECT ${COLUMNS} FROM synchub.checkpoints WHERE ($1::text IS NULL OR bucket = $1)
        ORDER BY requested_at DESC, id LIMIT $2`,
      [bucket ?? null, limit],
    );
  }

  async started(id: string, createdAt: string, cursor: string): Promise<void> {
    await this.query(
      `UPDATE synchub.checkpoints SET created_at = $2, cursor = $3, updated_at = now()
        WHERE id = $1`,
      [id, createdAt, cursor],
    );
  }

  async progress(
    id: string,
    counts: { rows: number; bytes: number; ndjsonBytes: number },
    progress: CheckpointProgress,
  ): Promise<void> {
    await this.query(
      `UPDATE synchub.checkpoints SET rows = $2, bytes = $3, ndjson_bytes = $4, progress = $5,
              updated_at = now() WHERE id = $1 AND status = 'pending'`,
      [id, counts.rows, counts.bytes, counts.ndjsonBytes, JSON.stringify(progress)],
    );
  }

  async ready(
    id: string,
    counts: { rows: number; bytes: number; ndjsonBytes: number },
  ): Promise<Checkpoint> {
    const [row] = await this.query<Checkpoint>(
      `UPDATE synchub.checkpoints SET status = 'ready', rows = $2, bytes = $3, ndjson_bytes = $4,
              progress = NULL, completed_at = now(), updated_at = now()
        WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, counts.rows, counts.bytes, counts.ndjsonBytes],
    );
    if (!row) throw new SyncError("not_found", `checkpoint ${id} was deleted while it was written`);
    return row;
  }

  async failed(id: string, error: string): Promise<void> {
    await this.query(
      `UPDATE synchub.checkpoints SET status = 'failed', error = $2, completed_at = now(),
              updated_at = now() WHERE id = $1 AND status = 'pending'`,
      [id, error],
    );
  }

  /**
   * Pending checkpoints nobody has advanced for `staleMs` (their writer died with its process)
   * are failed, so they do not stay pending for ever.
   */
  async failStale(staleMs: number): Promise<number> {
    const rows = await this.query(
      `UPDATE synchub.checkpoints SET status = 'failed', error = 'interrupted',
              completed_at = now(), updated_at = now()
        WHERE status = 'pending' AND updated_at < now() - make_interval(secs => $1)
        RETURNING id`,
      [staleMs / 1000],
    );
    return rows.length;
  }

  /** Checkpoints past the retention (ready or failed), oldest first; pending ones are kept. */
  async expired(retention: Retention): Promise<string[]> {
    const rows = "count" in retention
      ? await this.query<{ id: string }>(
        `SELECT id FROM (
           SELECT id, requested_at, row_number() OVER (PARTITION BY bucket
                    ORDER BY requested_at DESC, id) AS n
             FROM synchub.checkpoints WHERE status <> 'pending') c
          WHERE n > $1 ORDER BY requested_at`,
        [retention.count],
      )
      : await this.query<{ id: string }>(
        `SELECT id FROM synchub.checkpoints WHERE status <> 'pending'
            AND requested_at < now() - make_interval(secs => $1) ORDER BY requested_at`,
        [retention.ms / 1000],
      );
    return rows.map((r) => r.id);
  }

  async delete(id: string): Promise<void> {
    await this.query("DELETE FROM synchub.checkpoints WHERE id = $1", [id]);
  }

  private async query<T>(text: string, params: unknown[]): Promise<T[]> {
    try {
      return (await this.pool.query(text, params)).rows as T[];
    } catch (err) {
      throw fromPgError(err);
    }
  }
}

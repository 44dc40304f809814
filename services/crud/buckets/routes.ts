/**
 * `GET /v1/buckets/:id/data?tables=` (SPEC §10): the bucket's current readable rows as NDJSON
 * `{table, row}` lines, then a last line `{cursor}` — a snapshot's cursor, from which a
 * subscription to any of the tables continues with no gap and no duplicate. Streamed: rows are
 * read in batches as the client takes them. Once the first byte is sent the status is fixed, so
 * a failure after it ends the body with an `{error}` line instead of the cursor.
 */
import { Hono } from "hono";
import { principalOf } from "../../../lib/access.ts";
import type { AccessPolicy } from "../../../lib/access.ts";
import type { CatalogSource } from "../../../lib/catalog.ts";
import { asSyncError, SyncError } from "../../../lib/errors.ts";
import type { Logger } from "../../../lib/log.ts";
import { readBucket } from "../../../lib/postgres/bucket_reader.ts";
import type { Pool } from "../../../lib/postgres/pool.ts";
import type { CrudEnv } from "../env.ts";
import type { BusPositions } from "./position.ts";
import { bucketTables, tableNames } from "./scope.ts";

export interface BucketDeps {
  pool: Pool;
  catalog: CatalogSource;
  policy: AccessPolicy;
  positions: BusPositions;
  log: Logger;
}

export function bucketsApp(deps: BucketDeps): Hono<CrudEnv> {
  const app = new Hono<CrudEnv>();

  app.get("/buckets/:id/data", async (c) => {
    const bucket = c.req.param("id");
    const tables = await bucketTables(
      deps,
      principalOf(c.get("claims")),
      bucket,
      tableNames(c.req.queries("tables") ?? []),
    );
    if (tables.length === 0) {
      throw new SyncError("bad_request", "no table has rows of a bucket");
    }
    const offsets = await deps.positions.offsets(tables.map((t) => t.table));
    const encoder = new TextEncoder();
    const stop = new AbortController();
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>(
      undefined,
      { highWaterMark: 4 },
    );
    const writer = writable.getWriter();
    // The client went away: stop reading (and free the database connection).
    writer.closed.catch(() => stop.abort());
    const write = async (text: string) => {
      await writer.ready;
      await writer.write(encoder.encode(text));
    };
    let started!: () => void;
    const snapshotTaken = new Promise<void>((resolve) => started = resolve);
    const reading = readBucket(deps.pool, { tables, bucket }, {
      start: () => started(),
      rows: (table, rows) => {
        const prefix = `{"table":${JSON.stringify(table.qualified)},"row":`;
        let text = "";
        for (const row of rows) text += prefix + JSON.stringify(row) + "}\n";
        return write(text);
      },
    }, stop.signal);
    // Until the snapshot is taken, a failure is an ordinary error response.
    await Promise.race([snapshotTaken, reading]);
    reading.then(
      (visibility) =>
        write(JSON.stringify({ cursor: deps.positions.cursor(offsets, visibility) }) + "\n"),
      (err) => {
        if (stop.signal.aborted) return;
        deps.log.warn("bucket data failed after it started", { bucket, err });
        const e = asSyncError(err);
        return write(JSON.stringify({ error: { code: e.code, message: e.message } }) + "\n");
      },
    ).then(() => writer.close(), () => writer.abort()).catch(() => {});
    return new Response(readable, { headers: { "content-type": "application/x-ndjson" } });
  });

  return app;
}

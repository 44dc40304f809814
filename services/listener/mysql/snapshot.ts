/**
 * The initial snapshot of a binlog source: every captured row as `op:"r"`, read in one consistent
 * transaction whose binlog position is known, so streaming then starts exactly there — no gap,
 * no double. MariaDB reports that position for a consistent snapshot without locking; MySQL
 * needs a brief global read lock (RELOAD) to read it.
 */
import type mysql from "mysql2/promise";
import type { Envelope, Row } from "../../../lib/envelope.ts";
import type { SourceBatch } from "../source.ts";
import { type EnvelopeContext, mapRow, snapshotEnvelope } from "./decode.ts";
import { type BinlogCheckpoint, encodeCheckpoint } from "./position.ts";
import { BinlogConfigError, type TableMeta } from "../../../lib/mysql/schema.ts";
import type { Flavor } from "./setup.ts";

export async function* readSnapshot(
  conn: mysql.Connection,
  flavor: Flavor,
  tables: readonly TableMeta[],
  ctx: Pick<EnvelopeContext, "sourceName" | "bucketColumn" | "now">,
  batchSize = 5000,
  /** How many rows of a table have been read, as they are: for progress output. */
  onProgress?: (table: string, rows: number) => void,
): AsyncIterable<SourceBatch> {
  const start = await consistentStart(conn, flavor);
  // One batch is held back, so the snapshot's last row can be marked `snapshot: "last"`.
  let held: Envelope[] = [];
  try {
    const tsMs = Date.now();
    for (const t of tables) {
      const pk = t.primaryKey.map((c) => conn.escapeId(c)).join(", ");
      let after: unknown[] | undefined;
      let read = 0;
      for (;;) {
        const where = after ? `WHERE (${pk}) > (${after.map(() => "?").join(", ")})` : "";
        const [rows, fields] = await conn.query(
          `SELECT * FROM ${conn.escapeId(t.db)}.${
            conn.escapeId(t.table)
          } ${where} ORDER BY ${pk} LIMIT ${batchSize}`,
          after ?? [],
        ) as unknown as [Record<string, unknown>[], { name: string; columnType: number }[]];
        if (rows.length === 0) break;
        const columns = fields.map((f) => ({ name: f.name, type: f.columnType }));
        const envelopes: Envelope[] = rows.map((r) =>
          snapshotEnvelope(mapRow(r, columns, t.jsonColumns) as Row, {
            db: t.db,
            table: t.table,
            file: start.file,
            pos: start.pos,
            primaryKey: t.primaryKey,
            tsMs,
          }, ctx)
        );
        if (held.length) yield { envelopes: held, checkpoint: null };
        held = envelopes;
        read += rows.length;
        onProgress?.(`${t.db}.${t.table}`, read);
        if (rows.length < batchSize) break;
        const last = rows.at(-1)!;
        after = t.primaryKey.map((c) => last[c]);
      }
    }
    await conn.query("COMMIT");
  } catch (err) {
    await conn.query("ROLLBACK").catch(() => {});
    throw err;
  }
  const last = held.pop();
  if (last) held.push({ ...last, source: { ...last.source, snapshot: "last" } });
  // Once every row above is on the bus, streaming may start from the snapshot's position.
  yield { envelopes: held, checkpoint: encodeCheckpoint(start) };
}

async function consistentStart(conn: mysql.Connection, flavor: Flavor): Promise<BinlogCheckpoint> {
  await conn.query("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ");
  if (flavor === "mariadb") {
    await conn.query("START TRANSACTION WITH CONSISTENT SNAPSHOT");
    const [status] = await conn.query("SHOW STATUS LIKE 'binlog_snapshot_%'") as unknown as [
      { Variable_name: string; Value: string }[],
    ];
    const get = (n: string) => status.find((s) => s.Variable_name.toLowerCase() === n)?.Value;
    const file = get("binlog_snapshot_file"), pos = Number(get("binlog_snapshot_position"));
    if (!file) {
      throw new BinlogConfigError("MariaDB reports no binlog snapshot position: is log-bin on?");
    }
    const [[gtid]] = await conn.query("SELECT BINLOG_GTID_POS(?, ?) AS g", [
      file,
      pos,
    ]) as unknown as [
      { g: string | null }[],
    ];
    return { gtid: gtid?.g ?? undefined, file, pos };
  }
  try {
    await conn.query("FLUSH TABLES WITH READ LOCK");
  } catch (err) {
    throw new BinlogConfigError(
      `the initial snapshot needs a brief global read lock: GRANT RELOAD ON *.* TO <user> (${
        (err as Error).message
      })`,
    );
  }
  try {
    let rows: Record<string, unknown>[];
    try {
      [rows] = await conn.query("SHOW BINARY LOG STATUS") as unknown as [Record<string, unknown>[]];
    } catch {
      [rows] = await conn.query("SHOW MASTER STATUS") as unknown as [Record<string, unknown>[]];
    }
    const s = rows[0];
    if (!s) throw new BinlogConfigError("MySQL reports no binary log status: is log-bin on?");
    await conn.query("START TRANSACTION WITH CONSISTENT SNAPSHOT");
    const gtid = String(s.Executed_Gtid_Set ?? "").replace(/\s+/g, "");
    return { gtid: gtid || undefined, file: String(s.File), pos: Number(s.Position) };
  } finally {
    await conn.query("UNLOCK TABLES");
  }
}

/**
 * A MySQL/MariaDB side. Reads use the text protocol (values mapped as the binlog source maps
 * them); writes are multi-row statements in one transaction per batch. Rows whose key already
 * exists go through INSERT … ON DUPLICATE KEY UPDATE, which then always meets the primary key;
 * new rows through a plain INSERT, so a clash on another unique key is an error rather than a
 * silent update of a different row.
 */
import mysql from "mysql2/promise";
import type { Row } from "../../../lib/envelope.ts";
import { tableMeta } from "../../../lib/mysql/schema.ts";
import { mysqlValue } from "../../../lib/mysql/values.ts";
import type { Side, TableConfig } from "../config.ts";
import {
  type ColumnKind,
  type ColumnShape,
  SchemaMismatch,
  type TableShape,
} from "../table_shape.ts";
import {
  byColumns,
  groups,
  MARKER_TABLE,
  type MarkerTag,
  redactUrl,
  splitName,
  type SyncDatabase,
  type TableWrites,
  type WriteOp,
} from "./database.ts";
import { MarkerSlots } from "./marker_slots.ts";
import { toMySqlValue } from "./values.ts";
import { normalizeValue } from "../row_hash.ts";

const q = (name: string) => `\`${name.replace(/`/g, "``")}\``;

export async function openMySql(
  side: Side,
  url: string,
  opts: { connections: number },
): Promise<SyncDatabase> {
  const u = new URL(url);
  const database = decodeURIComponent(u.pathname.replace(/^\//, ""));
  if (!database) throw new Error(`${side}: name the database in the URL (mysql://…/database)`);
  const pool = mysql.createPool({
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database,
    connectionLimit: opts.connections,
    connectTimeout: 5_000,
    dateStrings: true,
    supportBigNumbers: true,
    charset: "utf8mb4",
  });
  // Timestamps travel in UTC, as the binlog source reads them. READ COMMITTED: the key lookups
  // FOR UPDATE then lock rows, not gaps, so concurrent batches inserting into one table do not
  // deadlock on each other's gap locks.
  pool.on("connection", (c) => {
    c.query("SET time_zone = '+00:00'");
    c.query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
  });
  const db = new MySqlDatabase(side, redactUrl(url), pool, database, opts.connections);
  try {
    await pool.query("SELECT 1");
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
  return db;
}

class MySqlDatabase implements SyncDatabase {
  readonly engine = "mysql" as const;
  private readonly slots: MarkerSlots;

  constructor(
    readonly side: Side,
    readonly label: string,
    private readonly pool: mysql.Pool,
    private readonly database: string,
    connections: number,
  ) {
    this.slots = new MarkerSlots(connections);
  }

  async describe(table: Pick<TableConfig, "name" | "primary_key">): Promise<TableShape> {
    const [db, name] = splitName(table.name, this.database);
    const conn = await this.pool.getConnection();
    try {
      const meta = await tableMeta(conn, db, name).catch((err) => {
        if (/does not exist/.test(String(err?.message))) {
          throw new SchemaMismatch(`table ${table.name} does not exist on ${this.side}`);
        }
        throw err;
      });
      const [types] = await conn.query(
        `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type FROM information_schema.COLUMNS
          WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`,
        [db, name],
      ) as unknown as [{ name: string; type: string }[]];
      const full = new Map(types.map((t) => [t.name, t.type.toLowerCase()]));
      const columns: ColumnShape[] = meta.columns.map((c) => ({
        name: c.name,
        kind: meta.jsonColumns.has(c.name) ? "json" : mysqlKind(c.dataType),
        dbType: full.get(c.name) ?? c.dataType,
        nullable: c.nullable,
      }));
      const primaryKey = table.primary_key ?? meta.primaryKey;
      const missing = primaryKey.filter((k) => !columns.some((c) => c.name === k));
      if (missing.length > 0) {
        throw new SchemaMismatch(
          `primary key column ${missing.join(", ")} of ${table.name} missing on ${this.side}`,
        );
      }
      return { name: table.name, namespace: db, table: name, columns, primaryKey };
    } finally {
      conn.release();
    }
  }

  async count(shape: TableShape): Promise<number> {
    const [rows] = await this.pool.query(`SELECT COUNT(*) AS n FROM ${this.qualified(shape)}`);
    return Number((rows as { n: number }[])[0]?.n ?? 0);
  }

  async readPage(
    shape: TableShape,
    after: Row | null,
    limit: number,
    columns: "all" | "key" = "all",
  ): Promise<Row[]> {
    const pk = shape.primaryKey;
    const params: unknown[] = [];
    let where = "";
    if (after) {
      // (a, b) > (x, y) spelt out, which every MySQL version turns into an index range.
      const terms = pk.map((_, i) => {
        const eq = pk.slice(0, i).map((c) => `${q(c)} = ?`);
        params.push(...pk.slice(0, i).map((c) => this.param(shape, c, after[c])));
        params.push(this.param(shape, pk[i]!, after[pk[i]!]));
        return `(${[...eq, `${q(pk[i]!)} > ?`].join(" AND ")})`;
      });
      where = `WHERE ${terms.join(" OR ")}`;
    }
    const list = columns === "key"
      ? pk.map(q).join(", ")
      : shape.columns.map((c) => q(c.name)).join(", ");
    const sql = `SELECT ${list} FROM ${this.qualified(shape)} ${where} ORDER BY ${
      pk.map(q).join(", ")
    } LIMIT ${Math.max(1, Math.floor(limit))}`;
    return await this.select(shape, sql, params);
  }

  async readByKeys(
    shape: TableShape,
    keys: readonly Row[],
    columns: "all" | "key" = "all",
  ): Promise<Row[]> {
    const list = columns === "key"
      ? shape.primaryKey.map(q).join(", ")
      : shape.columns.map((c) => q(c.name)).join(", ");
    const out: Row[] = [];
    for (const part of groups(keys, 1000)) {
      const { sql, params } = this.keyIn(shape, part);
      out.push(
        ...await this.select(
          shape,
          `SELECT ${list} FROM ${this.qualified(shape)} WHERE ${sql}`,
          params,
        ),
      );
    }
    return out;
  }

  apply(shape: TableShape, ops: readonly WriteOp[], marker: MarkerTag): Promise<void> {
    return this.applyMany([{ shape, ops }], marker);
  }

  async applyMany(parts: readonly TableWrites[], marker: MarkerTag): Promise<void> {
    const slot = await this.slots.take();
    const conn = await this.pool.getConnection();
    try {
      await conn.beginTransaction();
      // First statement of every transaction: the listener recognises sync writes by it.
      await conn.query(
        `INSERT INTO ${q(MARKER_TABLE)} (instance, direction, slot, txn, updated_at)
          VALUES (?, ?, ?, 1, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE txn = txn + 1, updated_at = UTC_TIMESTAMP(6)`,
        [marker.instance, marker.direction, slot],
      );
      for (const { shape, ops } of parts) {
        const upserts = ops.flatMap((o) => (o.kind === "upsert" ? [o.row] : []));
        const deletes = ops.flatMap((o) => (o.kind === "delete" ? [o.key] : []));
        for (const part of groups(deletes, 1000)) {
          const { sql, params } = this.keyIn(shape, part);
          await conn.query(`DELETE FROM ${this.qualified(shape)} WHERE ${sql}`, params);
        }
        if (upserts.length > 0) await this.upsert(conn, shape, upserts);
      }
      await conn.commit();
    } catch (err) {
      await conn.rollback().catch(() => {});
      throw err;
    } finally {
      conn.release();
      this.slots.give(slot);
    }
  }

  async ensureMarkerTable(): Promise<void> {
    const [found] = await this.pool.query(
      "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
      [this.database, MARKER_TABLE],
    );
    if ((found as unknown[]).length > 0) return;
    await this.pool.query(MYSQL_MARKER_DDL).catch((err) => {
      throw new Error(
        `${this.side}: cannot create ${MARKER_TABLE} (${err.message}); create it once as in services/sync/README.md`,
      );
    });
  }

  async ping(): Promise<boolean> {
    return await this.pool.query("SELECT 1").then(() => true, () => false);
  }

  close(): Promise<void> {
    // A connection the network cut makes end() reject: closing must still succeed.
    return this.pool.end().catch(() => {});
  }

  private async upsert(conn: mysql.PoolConnection, shape: TableShape, rows: readonly Row[]) {
    const pk = shape.primaryKey;
    const existing = new Set<string>();
    for (const part of groups(rows, 1000)) {
      const { sql, params } = this.keyIn(shape, part);
      const found = await this.select(
        shape,
        `SELECT ${pk.map(q).join(", ")} FROM ${this.qualified(shape)} WHERE ${sql} FOR UPDATE`,
        params,
        conn,
      );
      for (const r of found) existing.add(this.keyText(shape, r));
    }
    for (const group of byColumns(rows, shape.columns)) {
      const cols = group.columns;
      const update = cols.filter((c) => !pk.includes(c.name))
        .map((c) => `${q(c.name)} = VALUES(${q(c.name)})`);
      const fresh = group.rows.filter((r) => !existing.has(this.keyText(shape, r)));
      // Rows that carry only key columns have nothing to update where they exist.
      const known = update.length
        ? group.rows.filter((r) => existing.has(this.keyText(shape, r)))
        : [];
      const head = `INTO ${this.qualified(shape)} (${
        cols.map((c) => q(c.name)).join(", ")
      }) VALUES `;
      const tuple = `(${cols.map(() => "?").join(", ")})`;
      const perStatement = Math.max(1, Math.floor(60_000 / cols.length));
      const write = async (set: readonly Row[], tail: string) => {
        for (const part of groups(set, perStatement)) {
          const values: unknown[] = [];
          for (const r of part) for (const c of cols) values.push(toMySqlValue(r[c.name], c));
          await conn.query(`INSERT ${head}${part.map(() => tuple).join(", ")}${tail}`, values);
        }
      };
      await write(fresh, "");
      await write(known, ` ON DUPLICATE KEY UPDATE ${update.join(", ")}`);
    }
  }

  private keyText(shape: TableShape, r: Row): string {
    return JSON.stringify(shape.primaryKey.map((c) => normalizeValue(r[c], this.kind(shape, c))));
  }

  private kind(shape: TableShape, column: string): ColumnKind {
    return shape.columns.find((c) => c.name === column)?.kind ?? "other";
  }

  private keyIn(shape: TableShape, keys: readonly Row[]): { sql: string; params: unknown[] } {
    const pk = shape.primaryKey;
    const params: unknown[] = [];
    for (const k of keys) for (const c of pk) params.push(this.param(shape, c, k[c]));
    if (pk.length === 1) {
      return { sql: `${q(pk[0]!)} IN (${keys.map(() => "?").join(", ")})`, params };
    }
    const tuple = `(${pk.map(() => "?").join(", ")})`;
    return { sql: `(${pk.map(q).join(", ")}) IN (${keys.map(() => tuple).join(", ")})`, params };
  }

  private param(shape: TableShape, column: string, v: Row[string] | undefined): unknown {
    const c = shape.columns.find((x) => x.name === column)!;
    return toMySqlValue(v, c);
  }

  private async select(
    shape: TableShape,
    sql: string,
    params: unknown[],
    on: Pick<mysql.Pool, "query"> = this.pool,
  ): Promise<Row[]> {
    const [rows, fields] = await on.query({ sql, values: params, rowsAsArray: true });
    const meta = (fields as mysql.FieldPacket[]).map((f) => ({
      name: f.name,
      type: f.columnType ?? f.type ?? -1,
      json: this.kind(shape, f.name) === "json",
    }));
    return (rows as unknown[][]).map((values) => {
      const row: Row = {};
      for (let i = 0; i < meta.length; i++) {
        const m = meta[i]!;
        row[m.name] = mysqlValue(values[i], m.type, m.json);
      }
      return row;
    });
  }

  private qualified(shape: TableShape): string {
    return `${q(shape.namespace)}.${q(shape.table)}`;
  }
}

export const MYSQL_MARKER_DDL = `CREATE TABLE IF NOT EXISTS ${q(MARKER_TABLE)} (
  instance VARCHAR(64) NOT NULL,
  direction VARCHAR(32) NOT NULL,
  slot INT NOT NULL,
  txn BIGINT NOT NULL DEFAULT 0,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (instance, direction, slot))`;

function mysqlKind(dataType: string): ColumnKind {
  if (/^(tinyint|smallint|mediumint|int|integer|bigint|year|bit)$/.test(dataType)) return "integer";
  if (/^(float|double|real)$/.test(dataType)) return "float";
  if (/^(decimal|numeric)$/.test(dataType)) return "decimal";
  if (dataType === "datetime") return "timestamp";
  if (dataType === "timestamp") return "timestamptz";
  if (dataType === "date") return "date";
  if (dataType === "time") return "time";
  if (dataType === "json") return "json";
  if (dataType === "uuid") return "uuid";
  if (/blob|binary/.test(dataType)) return "bytes";
  if (/char|text|enum|set/.test(dataType)) return "text";
  return "other";
}

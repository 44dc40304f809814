/**
 * MySQL/MariaDB table metadata, read from information_schema: what the binlog source captures and
 * what the gateway lets clients subscribe to and filter on.
 */
import type mysql from "mysql2/promise";

export interface TableMeta {
  readonly db: string;
  readonly table: string;
  readonly columns: readonly { name: string; dataType: string; nullable: boolean }[];
  readonly primaryKey: readonly string[];
  /** MariaDB stores JSON as LONGTEXT checked by json_valid(): its values arrive as text. */
  readonly jsonColumns: ReadonlySet<string>;
}

export class BinlogConfigError extends Error {
  override name = "BinlogConfigError";
}

/** The tables to capture: those configured, or every base table of the URL's database. */
export async function capturedTables(
  conn: mysql.Connection,
  configured: readonly string[] | undefined,
  database: string | undefined,
): Promise<{ db: string; table: string }[]> {
  if (configured?.length) {
    return configured.map((t) => {
      const [db, table] = t.split(".");
      return { db: db!, table: table! };
    });
  }
  if (!database) {
    throw new BinlogConfigError(
      "MySQL source: name the tables (MYSQL_TABLES=db.table,…) or a database in MYSQL_URL",
    );
  }
  const [rows] = await conn.query(
    "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'",
    [database],
  ) as unknown as [{ t: string }[]];
  return rows.map((r) => ({ db: database, table: r.t }));
}

export async function tableMeta(
  conn: mysql.Connection,
  db: string,
  table: string,
): Promise<TableMeta> {
  const [cols] = await conn.query(
    `SELECT COLUMN_NAME AS name, DATA_TYPE AS type, IS_NULLABLE AS nullable FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [db, table],
  ) as unknown as [{ name: string; type: string; nullable: string }[]];
  if (cols.length === 0) {
    throw new BinlogConfigError(`MySQL source: table ${db}.${table} does not exist`);
  }
  const [pk] = await conn.query(
    `SELECT COLUMN_NAME AS name FROM information_schema.KEY_COLUMN_USAGE
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION`,
    [db, table],
  ) as unknown as [{ name: string }[]];
  const json = new Set<string>();
  try {
    const [checks] = await conn.query(
      `SELECT CHECK_CLAUSE AS c FROM information_schema.CHECK_CONSTRAINTS
        WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?`,
      [db, table],
    ) as unknown as [{ c: string }[]];
    for (const { c } of checks) {
      const m = /^json_valid\(`([^`]+)`\)$/i.exec(c.trim());
      if (m) json.add(m[1]!);
    }
  } catch { /* MySQL before 8.0.16 has no CHECK_CONSTRAINTS; its JSON type needs none */ }
  return {
    db,
    table,
    columns: cols.map((c) => ({
      name: c.name,
      dataType: c.type.toLowerCase(),
      nullable: c.nullable === "YES",
    })),
    primaryKey: pk.length ? pk.map((r) => r.name) : cols.map((c) => c.name),
    jsonColumns: json,
  };
}

/**
 * The little the SQL state store needs from a database: queries with `?` placeholders, a
 * transaction, and the few phrases where the three dialects differ.
 */
export type Dialect = "sqlite" | "postgres" | "mysql";
export type SqlRow = Record<string, unknown>;

export interface SqlDriver {
  readonly dialect: Dialect;
  query(sql: string, params?: readonly unknown[]): Promise<SqlRow[]>;
  /** Returns the number of rows changed. */
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
  transaction<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Column types per dialect, for the migrations. */
export function types(d: Dialect) {
  return {
    /** Short text that is part of a key or an index. */
    key: d === "mysql" ? "VARCHAR(255)" : "TEXT",
    text: d === "mysql" ? "LONGTEXT" : "TEXT",
    int: d === "sqlite" ? "INTEGER" : "BIGINT",
  };
}

/** `INSERT … ON CONFLICT (keys) DO UPDATE` in each dialect. */
export function upsert(
  d: Dialect,
  table: string,
  columns: readonly string[],
  keys: readonly string[],
  update: readonly string[],
): string {
  const insert = `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${
    columns.map(() => "?").join(", ")
  })`;
  if (d === "mysql") {
    return `${insert} ON DUPLICATE KEY UPDATE ${
      update.map((c) => `${c} = VALUES(${c})`).join(", ")
    }`;
  }
  return `${insert} ON CONFLICT (${keys.join(", ")}) DO UPDATE SET ${
    update.map((c) => `${c} = excluded.${c}`).join(", ")
  }`;
}

/** `INSERT` that does nothing when a unique key already holds the row. */
export function insertIgnore(d: Dialect, table: string, columns: readonly string[]): string {
  const values = `(${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`;
  return d === "mysql"
    ? `INSERT IGNORE INTO ${table} ${values}`
    : `INSERT INTO ${table} ${values} ON CONFLICT DO NOTHING`;
}

/** `?, ?, ?` for an IN list. */
export function placeholders(n: number): string {
  return Array.from({ length: n }, () => "?").join(", ");
}

/** The state store in a MySQL/MariaDB database (`state_storage: { type: mysql, url }`). */
import mysql from "mysql2/promise";
import type { SqlDriver, SqlRow } from "./driver.ts";
import { openSqlStore } from "./sql_store.ts";
import type { StateStore } from "./store.ts";

export async function openMySqlStore(url: string): Promise<StateStore> {
  const u = new URL(url);
  const pool = mysql.createPool({
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.replace(/^\//, "")),
    connectionLimit: 4,
    connectTimeout: 5_000,
    supportBigNumbers: true,
  });
  try {
    return await openSqlStore(new MySqlDriver(pool, pool));
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
}

type Queryable = Pick<mysql.Pool, "query">;

class MySqlDriver implements SqlDriver {
  readonly dialect = "mysql" as const;

  constructor(private readonly db: Queryable, private readonly pool: mysql.Pool) {}

  async query(sql: string, params: readonly unknown[] = []): Promise<SqlRow[]> {
    const [rows] = await this.db.query(sql, [...params]);
    return rows as SqlRow[];
  }

  async execute(sql: string, params: readonly unknown[] = []): Promise<number> {
    for (let attempt = 0;; attempt++) {
      try {
        const [result] = await this.db.query(sql, [...params]);
        return (result as mysql.ResultSetHeader).affectedRows;
      } catch (err) {
        // InnoDB may pick a lone upsert as a deadlock victim; outside a transaction, run it again.
        const deadlock = (err as { errno?: number }).errno === 1213;
        if (!deadlock || this.db !== this.pool || attempt >= 5) throw err;
      }
    }
  }

  async transaction<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T> {
    if (this.db !== this.pool) return fn(this);
    const conn = await this.pool.getConnection();
    try {
      await conn.beginTransaction();
      const result = await fn(new MySqlDriver(conn, this.pool));
      await conn.commit();
      return result;
    } catch (err) {
      await conn.rollback().catch(() => {});
      throw err;
    } finally {
      conn.release();
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

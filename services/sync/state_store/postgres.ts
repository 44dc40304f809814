/** The state store in a PostgreSQL database (`state_storage: { type: postgres, url }`). */
import pg from "pg";
import type { SqlDriver, SqlRow } from "./driver.ts";
import { openSqlStore } from "./sql_store.ts";
import type { StateStore } from "./store.ts";

export async function openPostgresStore(url: string): Promise<StateStore> {
  const pool = new pg.Pool({
    connectionString: url,
    max: 4,
    connectionTimeoutMillis: 5_000,
    application_name: "synchub-sync-state",
  });
  pool.on("error", () => {}); // an idle client's failure shows on the next query
  try {
    return await openSqlStore(new PgDriver(pool));
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
}

type Queryable = Pick<pg.Pool, "query">;

class PgDriver implements SqlDriver {
  readonly dialect = "postgres" as const;

  constructor(private readonly db: Queryable, private readonly pool?: pg.Pool) {
    this.pool ??= db as pg.Pool;
  }

  async query(sql: string, params: readonly unknown[] = []): Promise<SqlRow[]> {
    return (await this.db.query(numbered(sql), [...params])).rows;
  }

  async execute(sql: string, params: readonly unknown[] = []): Promise<number> {
    return (await this.db.query(numbered(sql), [...params])).rowCount ?? 0;
  }

  async transaction<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T> {
    if (this.db !== this.pool) return fn(this);
    const client = await this.pool!.connect();
    try {
      await client.query("BEGIN");
      const result = await fn(new PgDriver(client, this.pool));
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  close(): Promise<void> {
    return this.pool!.end();
  }
}

/** `?` placeholders to `$1, $2, …` (the store's SQL has no `?` inside literals). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

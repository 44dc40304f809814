/**
 * The embedded state store: one SQLite file (node:sqlite), by default `DATA_DIR/sync_state.db`.
 * node:sqlite is synchronous; a transaction spans awaits, so everything else waits its turn.
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { dirname } from "node:path";
import type { SqlDriver, SqlRow } from "./driver.ts";
import { openSqlStore } from "./sql_store.ts";
import type { StateStore } from "./store.ts";

export async function openSqliteStore(path: string): Promise<StateStore> {
  if (path !== ":memory:") await Deno.mkdir(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000");
  return await openSqlStore(new SqliteDriver(db));
}

/** Prepared statements by SQL text: the store runs a few statements very often (realtime). */
type Statements = Map<string, StatementSync>;

class SqliteDriver implements SqlDriver {
  readonly dialect = "sqlite" as const;
  private turn: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: DatabaseSync,
    private readonly inTransaction = false,
    private readonly statements: Statements = new Map(),
  ) {}

  query(sql: string, params: readonly unknown[] = []): Promise<SqlRow[]> {
    return this.serial(() => this.prepared(sql).all(...values(params)) as SqlRow[]);
  }

  execute(sql: string, params: readonly unknown[] = []): Promise<number> {
    return this.serial(() => Number(this.prepared(sql).run(...values(params)).changes));
  }

  private prepared(sql: string): StatementSync {
    let s = this.statements.get(sql);
    if (!s) {
      // Statements with IN lists vary in length: keep the cache bounded.
      if (this.statements.size > 500) this.statements.clear();
      this.statements.set(sql, s = this.db.prepare(sql));
    }
    return s;
  }

  transaction<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T> {
    if (this.inTransaction) return fn(this);
    return this.serial(async () => {
      this.db.exec("BEGIN IMMEDIATE");
      try {
        const result = await fn(new SqliteDriver(this.db, true, this.statements));
        this.db.exec("COMMIT");
        return result;
      } catch (err) {
        this.db.exec("ROLLBACK");
        throw err;
      }
    });
  }

  close(): Promise<void> {
    return this.serial(() => this.db.close());
  }

  private serial<T>(fn: () => T | Promise<T>): Promise<T> {
    if (this.inTransaction) return Promise.resolve().then(fn);
    const next = this.turn.then(fn);
    this.turn = next.catch(() => {});
    return next;
  }
}

function values(params: readonly unknown[]): SQLInputValue[] {
  return params.map((p) => (typeof p === "boolean" ? Number(p) : p ?? null) as SQLInputValue);
}

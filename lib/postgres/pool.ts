/** Connection pools whose rows decode exactly as the WAL decoder's (SPEC §2 value mapping). */
import pg from "pg";
import type { TableInfo } from "../catalog.ts";
import { SyncError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { fromPgError } from "./errors.ts";
import { SESSION_OPTIONS, textDecoderFor } from "./values.ts";

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

const types = {
  getTypeParser: (oid: number, format?: string) =>
    format === "binary" ? (v: unknown) => v : textDecoderFor(oid),
};

export function createPool(
  url: string,
  opts: { log: Logger; max?: number; applicationName?: string },
): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    options: SESSION_OPTIONS,
    application_name: opts.applicationName ?? "synchub",
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    // deno-lint-ignore no-explicit-any
    types: types as any,
  });
  // An idle client losing its server must not bring the process down; the next query retries.
  pool.on("error", (err) => opts.log.warn("idle database connection failed", { err }));
  return pool;
}

/**
 * Runs `fn` in a transaction on one client of the pool: committed when it returns, rolled back
 * when it throws. Database errors come out as SyncErrors (fromPgError).
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect().catch((err) => {
    throw fromPgError(err);
  });
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err instanceof SyncError ? err : fromPgError(err);
  } finally {
    client.release();
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** `schema.table` → `"schema"."table"`. */
export function quoteQualified(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

/** `SELECT <every column> FROM <table> [WHERE …] ORDER BY <key>`: a table read in key order. */
export function selectInKeyOrder(
  table: Pick<TableInfo, "schema" | "name" | "columns" | "primaryKey">,
  where = "",
): string {
  const columns = table.columns.map((c) => quoteIdent(c.name)).join(", ");
  const order = table.primaryKey.length
    ? ` ORDER BY ${table.primaryKey.map(quoteIdent).join(", ")}`
    : "";
  return `SELECT ${columns} FROM ${quoteQualified(table.schema, table.name)}${
    where ? ` WHERE ${where}` : ""
  }${order}`;
}

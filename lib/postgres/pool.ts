/** Connection pools whose rows decode exactly as the WAL decoder's (SPEC §2 value mapping). */
import pg from "pg";
import type { Logger } from "../log.ts";
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

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** `schema.table` → `"schema"."table"`. */
export function quoteQualified(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

/**
 * What a database error means for the sync: a row the target refuses (isolate it), a table or
 * column that is not there (mark the table), a lock to retry, or the database itself failing.
 */
/** A value the target's column cannot hold, found before it reached the database. */
export class ValueError extends Error {
  override name = "ValueError";
}

export type ErrorKind = "row" | "schema" | "retry" | "fatal";

const MYSQL_ROW = new Set([
  1048, // column cannot be null
  1062, // duplicate entry (a unique key other than the primary key)
  1136, // column count
  1264, // out of range
  1265, // data truncated
  1292, // incorrect datetime / truncated incorrect value
  1366, // incorrect value for column
  1367, // illegal value
  1406, // data too long
  1451, // foreign key: a child row exists
  1452, // foreign key: no parent row
  3140, // invalid JSON
  3819, // check constraint (MySQL)
  4025, // check constraint (MariaDB)
]);
const MYSQL_SCHEMA = new Set([1054, 1146]); // unknown column, no such table
const MYSQL_RETRY = new Set([1205, 1213]); // lock wait timeout, deadlock

export function classifyDbError(err: unknown): ErrorKind {
  const e = err as { errno?: unknown; code?: unknown };
  if (typeof e?.errno === "number" && typeof e.code === "string" && e.code.startsWith("ER_")) {
    if (MYSQL_ROW.has(e.errno)) return "row";
    if (MYSQL_SCHEMA.has(e.errno)) return "schema";
    if (MYSQL_RETRY.has(e.errno)) return "retry";
    return "fatal";
  }
  const state = typeof e?.code === "string" ? e.code : "";
  if (/^[0-9A-Z]{5}$/.test(state)) {
    if (state.startsWith("22") || state.startsWith("23")) return "row";
    if (state === "42703" || state === "42P01") return "schema";
    if (state === "40001" || state === "40P01" || state === "55P03") return "retry";
  }
  if (err instanceof ValueError) return "row";
  return "fatal";
}

export function errorText(err: unknown): string {
  const message = String((err as { message?: unknown })?.message ?? err);
  return message.split("\n")[0]!.slice(0, 500);
}

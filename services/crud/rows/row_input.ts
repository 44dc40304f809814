/**
 * What a rows request carries, checked and shaped: bodies as writable rows, keys from the URL or
 * a body, versions from If-Match, page cursors, batches.
 */
import { defaultBucket, type Principal, type TableRule } from "../../../lib/access.ts";
import type { JsonValue, Row } from "../../../lib/envelope.ts";
import { SyncError } from "../../../lib/errors.ts";
import type { TableInfo } from "../../../lib/catalog.ts";
import {
  checkClientTime,
  checkKeyValue,
  MAX_CLOCK_SKEW_MS,
  parseUrlValue,
  validateRow,
} from "./row_schema.ts";
import {
  inBatch,
  isVersioned,
  UPDATED_AT_COLUMN,
  VERSION_COLUMN,
  type WriteOp,
} from "./row_store.ts";

export const MAX_BATCH = 1000;

/**
 * `[{op:"insert",row}, {op:"update",id,row}, {op:"delete",id}]`; an update or delete may name its
 * row by `id` or by the key columns in `row`, and may carry the `version` it expects.
 */
export function parseBatch(
  table: TableInfo,
  body: unknown,
  who: { principal: Principal; rule: TableRule },
): WriteOp[] {
  if (!Array.isArray(body)) {
    throw new SyncError("validation_failed", "a batch is a JSON array of operations");
  }
  if (body.length === 0 || body.length > MAX_BATCH) {
    throw new SyncError("validation_failed", `a batch holds 1 to ${MAX_BATCH} operations`);
  }
  return body.map((item, index): WriteOp => {
    try {
      if (typeof item !== "object" || item === null) {
        throw new SyncError("validation_failed", "not an object");
      }
      const { op, id, row, version } = item as Record<string, unknown>;
      const keyOf = () =>
        id !== undefined
          ? keyFromId(table, typeof id === "string" ? id : JSON.stringify(id))
          : keyFromRow(table, row);
      const expected = version === undefined ? undefined : versionValue(String(version));
      switch (op) {
        case "insert":
          return { op, values: withDefaultBucket(writableRow(table, row, "insert"), who) };
        case "update": {
          const values = writableRow(table, row ?? {}, "patch");
          return {
            op,
            key: keyOf(),
            values,
            mode: "patch",
            expectedVersion: expected ?? rowVersion(table, values),
          };
        }
        case "delete":
          return { op, key: keyOf(), expectedVersion: expected };
        default:
          throw new SyncError("validation_failed", `op must be "insert", "update" or "delete"`);
      }
    } catch (err) {
      throw inBatch(err, index);
    }
  });
}

/**
 * A body as the values to write: validated against the table's columns; the version is the
 * server's to number (from 1); a client's `updated_at` must be a plausible instant.
 */
export function writableRow(
  table: TableInfo,
  body: unknown,
  mode: "insert" | "replace" | "patch",
): Row {
  const values = validateRow(table, body, mode);
  if (mode === "insert" && isVersioned(table)) delete values[VERSION_COLUMN];
  const time = values[UPDATED_AT_COLUMN];
  if (
    time !== undefined && time !== null && table.column.get(UPDATED_AT_COLUMN)?.kind === "timestamp"
  ) {
    checkClientTime(time, MAX_CLOCK_SKEW_MS);
  }
  return values;
}

/** A new row without a bucket goes to the token's only bucket; with several it must name one. */
export function withDefaultBucket(
  values: Row,
  who: { principal: Principal; rule: TableRule },
): Row {
  const column = who.rule.bucketColumn;
  if (!column || values[column] !== undefined || who.rule.write !== "bucket") return values;
  const bucket = defaultBucket(who.principal);
  if (bucket !== null) return { ...values, [column]: bucket };
  if (who.principal.all || who.principal.admin) return values;
  throw new SyncError(
    "validation_failed",
    `column "${column}" is required: name the row's bucket (the token holds ${
      who.principal.buckets.size === 0 ? "none" : "several"
    })`,
    {
      columns: [{ column, message: "required" }],
    },
  );
}

/** `:id` is the key value; for a composite key, a JSON array of the values in key order. */
export function keyFromId(table: TableInfo, id: string): Row {
  const pk = table.primaryKey;
  if (pk.length === 0) throw new SyncError("bad_request", `${table.qualified} has no primary key`);
  if (pk.length === 1) return { [pk[0]!]: parseUrlValue(table.column.get(pk[0]!)!, id) };
  let values: unknown;
  try {
    values = JSON.parse(id);
  } catch { /* reported below */ }
  if (!Array.isArray(values) || values.length !== pk.length) {
    throw new SyncError(
      "bad_request",
      `the key of ${table.qualified} is a JSON array: [${pk.join(", ")}]`,
    );
  }
  return Object.fromEntries(
    pk.map((c, i) => [c, parseUrlValue(table.column.get(c)!, String(values[i]))]),
  );
}

export function keyFromRow(table: TableInfo, row: unknown): Row {
  const r = (typeof row === "object" && row !== null ? row : {}) as Row;
  const missing = table.primaryKey.filter((c) => !Object.hasOwn(r, c));
  if (missing.length) {
    throw new SyncError(
      "validation_failed",
      `the operation needs "id" or key column "${missing[0]}"`,
    );
  }
  return Object.fromEntries(
    table.primaryKey.map((c) => [c, checkKeyValue(table.column.get(c)!, r[c])]),
  );
}

/** `If-Match: 3` or `If-Match: "3"`; otherwise the `version` the body carries. */
export function expectedVersion(
  table: TableInfo,
  header: string | undefined,
  values: Row,
): number | undefined {
  if (!isVersioned(table)) return undefined;
  if (header !== undefined && header.trim() !== "*") { // `*`: any version will do
    return versionValue(header.replace(/^W\//, "").replace(/"/g, "").trim());
  }
  return rowVersion(table, values);
}

export function rowVersion(table: TableInfo, values: Row): number | undefined {
  const v = values[VERSION_COLUMN];
  return isVersioned(table) && typeof v === "number" ? v : undefined;
}

export function versionValue(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) {
    throw new SyncError(
      "bad_request",
      `If-Match must be a row version (an integer), not "${text}"`,
    );
  }
  return n;
}

export function etag(table: TableInfo, row: Row): Record<string, string> {
  const v = row[VERSION_COLUMN];
  return isVersioned(table) && typeof v === "number" ? { etag: `"${v}"` } : {};
}

export function encodePageCursor(values: JsonValue[]): string {
  return btoa(JSON.stringify(values)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodePageCursor(table: TableInfo, text: string): JsonValue[] {
  let values: unknown;
  try {
    values = JSON.parse(atob(text.replace(/-/g, "+").replace(/_/g, "/")));
  } catch { /* reported below */ }
  if (!Array.isArray(values) || values.length !== table.primaryKey.length) {
    throw new SyncError(
      "bad_request",
      "malformed `after` cursor; pass the `next` of the previous page",
    );
  }
  return table.primaryKey.map((c, i) => checkKeyValue(table.column.get(c)!, values[i]));
}

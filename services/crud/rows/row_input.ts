/**
 * What a rows request carries, checked and shaped: bodies as writable rows, keys from the URL or
 * a body, versions from If-Match, page cursors, batches.
 */
import { defaultBucket, type Principal, type TableRule } from "../../../lib/access.ts";
import type { JsonValue, Row } from "../../../lib/envelope.ts";
import { SyncError } from "../../../lib/errors.ts";
import type { TableInfo } from "../../../lib/catalog.ts";
import {
  checkKeyValue,
  clampClientTime,
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
/** Rows a list answers at most. */
export const MAX_PAGE = 1000;

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
      if (typeof item !== "object" || item === null || Array.isArray(item)) {
        throw new SyncError("validation_failed", "not an object");
      }
      const { op, id, row, version } = item as Record<string, unknown>;
      const allowed = op === "insert" ? INSERT_FIELDS : OTHER_FIELDS;
      const extra = Object.keys(item).find((k) => !allowed.has(k));
      if (extra !== undefined && (op === "insert" || op === "update" || op === "delete")) {
        throw new SyncError("validation_failed", `a ${op} takes no "${extra}"`);
      }
      const keyOf = () => id !== undefined ? batchKey(table, id) : keyFromRow(table, row);
      const expected = version === undefined ? undefined : batchVersion(version);
      switch (op) {
        case "insert":
          return { op, values: withDefaultBucket(writableRow(table, row, "insert"), who) };
        case "update": {
          const key = keyOf();
          const values = writableRow(table, row ?? {}, "patch");
          return {
            op,
            key,
            values,
            mode: "patch",
            expectedVersion: expected ?? rowVersion(table, values),
          };
        }
        case "delete":
          if (
            row !== undefined && (typeof row !== "object" || row === null || Array.isArray(row))
          ) {
            throw new SyncError("validation_failed", `"row" must be an object of key columns`);
          }
          return { op, key: keyOf(), expectedVersion: expected };
        default:
          throw new SyncError("validation_failed", `op must be "insert", "update" or "delete"`);
      }
    } catch (err) {
      throw inBatch(err, index);
    }
  });
}

const INSERT_FIELDS = new Set(["op", "row"]);
const OTHER_FIELDS = new Set(["op", "id", "row", "version"]);

/** A batch operation's `id`: the key as JSON values (an array for a composite key), or as in a URL. */
function batchKey(table: TableInfo, id: unknown): Row {
  if (typeof id === "string") return keyFromId(table, id);
  const pk = table.primaryKey;
  const values = pk.length === 1 ? [id] : id;
  if (!Array.isArray(values) || values.length !== pk.length) {
    throw new SyncError(
      "validation_failed",
      `"id" is the key of ${table.qualified}: ${pk.length === 1 ? pk[0] : `[${pk.join(", ")}]`}`,
    );
  }
  return Object.fromEntries(pk.map((c, i) => [c, checkKeyValue(table.column.get(c)!, values[i])]));
}

function batchVersion(version: unknown): number {
  if (typeof version !== "number" || !Number.isSafeInteger(version) || version < 0) {
    throw new SyncError("validation_failed", `"version" must be a row version (an integer)`);
  }
  return version;
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
  // The path (or the batch operation's `id`) names the row: a key in the body is ignored.
  if (mode !== "insert") { for (const c of table.primaryKey) delete values[c]; }
  const time = values[UPDATED_AT_COLUMN];
  if (typeof time === "string" && table.column.get(UPDATED_AT_COLUMN)?.kind === "timestamp") {
    values[UPDATED_AT_COLUMN] = clampClientTime(time, MAX_CLOCK_SKEW_MS);
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

/** `If-Match`: `*`, or a row version, bare or as an entity tag (`"3"`, `W/"3"`). */
export const IF_MATCH = /^(?:\*|(?:W\/)?"(\d{1,15})"|(\d{1,15}))$/;

/** The version a write expects: `If-Match`, else the `version` the body carries. */
export function expectedVersion(
  table: TableInfo,
  header: string | undefined,
  values: Row,
): number | undefined {
  if (!isVersioned(table)) return undefined;
  if (header !== undefined) {
    const m = IF_MATCH.exec(header.trim());
    if (!m) {
      throw new SyncError(
        "bad_request",
        `If-Match must be * or a row version (an integer, up to 15 digits), not "${header}"`,
      );
    }
    const digits = m[1] ?? m[2];
    if (digits !== undefined) return Number(digits); // else `*`: any version will do
  }
  return rowVersion(table, values);
}

export function rowVersion(table: TableInfo, values: Row): number | undefined {
  const v = values[VERSION_COLUMN];
  return isVersioned(table) && typeof v === "number" ? v : undefined;
}

export function etag(table: TableInfo, row: Row): Record<string, string> {
  const v = row[VERSION_COLUMN];
  return isVersioned(table) && typeof v === "number" ? { etag: `"${v}"` } : {};
}

/**
 * The `after` of the next page: the last row's key, written as the `:id` of its URL, so a client
 * (and /openapi.json) knows its form.
 */
export function encodePageCursor(values: JsonValue[]): string {
  return values.length === 1 ? String(values[0]) : JSON.stringify(values);
}

export function decodePageCursor(table: TableInfo, text: string): JsonValue[] {
  try {
    const key = keyFromId(table, text);
    return table.primaryKey.map((c) => key[c]!);
  } catch (err) {
    const why = err instanceof SyncError ? `: ${err.message}` : "";
    throw new SyncError("bad_request", `malformed \`after\`; pass the \`next\` of a page${why}`);
  }
}

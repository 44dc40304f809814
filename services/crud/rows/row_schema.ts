/**
 * Request bodies checked against a table's columns, as read from the database: unknown columns,
 * wrong types and missing required values are refused, naming the column.
 */
import { z } from "zod";
import type { Row } from "../../../lib/envelope.ts";
import { SyncError } from "../../../lib/errors.ts";
import type { ColumnInfo, ColumnKind, TableInfo } from "../../../lib/catalog.ts";
import { UPDATED_AT_COLUMN } from "./row_store.ts";

export type WriteMode = "insert" | "replace" | "patch";

const ISO_TIMESTAMP =
  /^(\d{4,}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d(:?\d\d)?)?)?|-?infinity)$/i;
/** A finite instant: what a last-write-wins clock may hold (`infinity` would win every write). */
const FINITE_TIMESTAMP =
  /^\d{4,}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d(:?\d\d)?)?)?$/i;
/** How far ahead of our clock a client's `updated_at` may be. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;
const DATE = /^(\d{4,}-\d\d-\d\d|-?infinity)$/i;
const DECIMAL = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$|^NaN$/;
const INT8_MIN = -(2n ** 63n);
const INT8_MAX = 2n ** 63n - 1n;

function kindSchema(kind: ColumnKind, col: ColumnInfo): z.ZodType {
  switch (kind) {
    case "boolean":
      return z.boolean();
    case "integer": {
      const bits = col.intBits ?? 32;
      return z.number().int().min(-(2 ** (bits - 1))).max(2 ** (bits - 1) - 1);
    }
    case "bigint":
      return z.union([z.number().int(), z.string().regex(/^-?\d+$/, "expected an integer")])
        .refine((v) => inInt8Range(v), "out of range for bigint");
    case "float":
      return z.union([z.number(), z.enum(["NaN", "Infinity", "-Infinity"])]);
    case "numeric":
      return z.union([z.number(), z.string().regex(DECIMAL, "expected a decimal number")]);
    case "uuid":
      return z.guid("expected a UUID");
    case "json":
      return z.json();
    case "bytea":
      return z.base64("expected base64");
    case "timestamp":
      return z.string().regex(ISO_TIMESTAMP, "expected an ISO-8601 timestamp");
    case "date":
      return z.string().regex(DATE, "expected an ISO-8601 date");
    case "enum":
      return z.enum((col.enumValues ?? []) as [string, ...string[]]);
    case "string":
      return col.maxLength ? z.string().max(col.maxLength) : z.string();
    case "array":
      return z.array(kindSchema(col.element ?? "other", col).nullable());
    case "time":
    case "interval":
    case "other":
      return z.string();
  }
}

/** Zod runs refinements even after a failed type check, so this must not throw on any input. */
function inInt8Range(v: unknown): boolean {
  if (typeof v !== "number" && (typeof v !== "string" || !/^-?\d+$/.test(v))) return false;
  if (typeof v === "number" && !Number.isInteger(v)) return false;
  const n = BigInt(v);
  return n >= INT8_MIN && n <= INT8_MAX;
}

const cache = new WeakMap<TableInfo, Record<WriteMode, z.ZodType<Row>>>();

/** A row as the API returns it: every served column, typed. For /openapi.json. */
export function rowOutputSchema(table: TableInfo): z.ZodType {
  const shape: Record<string, z.ZodType> = {};
  for (const col of table.columns) {
    const s = kindSchema(col.kind, col);
    shape[col.name] = col.notNull ? s : s.nullable();
  }
  return z.object(shape);
}

/**
 * The last-write-wins clock as a client may write it. Whether it is a real date and not too far
 * ahead of the server clock is checked after the schema (checkClientTime): JSON Schema cannot say.
 */
function lwwClockSchema(): z.ZodType {
  return z.string().regex(FINITE_TIMESTAMP, "expected an ISO-8601 timestamp").describe(
    `last write wins on this column: a real instant, at most ${
      MAX_CLOCK_SKEW_MS / 1000
    } s ahead of the server clock; an older one than the stored row's gets 409`,
  );
}

/** The schemas request bodies are validated with, per write mode: also what /openapi.json shows. */
export function schemasFor(table: TableInfo): Record<WriteMode, z.ZodType<Row>> {
  let schemas = cache.get(table);
  if (schemas) return schemas;
  const build = (mode: WriteMode) => {
    const shape: Record<string, z.ZodType> = {};
    for (const col of table.columns) {
      if (col.readOnly) continue;
      let s = col.name === UPDATED_AT_COLUMN && col.kind === "timestamp"
        ? lwwClockSchema()
        : kindSchema(col.kind, col);
      if (!col.notNull) s = s.nullable();
      const required = mode !== "patch" && col.notNull && !col.hasDefault &&
        !(mode === "replace" && table.primaryKey.includes(col.name));
      shape[col.name] = required ? s : s.optional();
    }
    return z.strictObject(shape) as unknown as z.ZodType<Row>;
  };
  schemas = { insert: build("insert"), replace: build("replace"), patch: build("patch") };
  cache.set(table, schemas);
  return schemas;
}

/** The body as a row of the table, or a `validation_failed` error naming each bad column. */
export function validateRow(table: TableInfo, body: unknown, mode: WriteMode): Row {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new SyncError("validation_failed", "the body must be a JSON object of column values");
  }
  const readOnly = Object.keys(body).filter((k) => table.column.get(k)?.readOnly);
  if (readOnly.length > 0) {
    throw new SyncError(
      "validation_failed",
      `column "${readOnly[0]}" is generated by the database and cannot be written`,
      { columns: readOnly.map((column) => ({ column, message: "read-only" })) },
    );
  }
  const result = schemasFor(table)[mode].safeParse(body);
  if (result.success) return result.data;
  const columns = result.error.issues.flatMap((issue) => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((column) => ({
        column,
        message: `unknown column of ${table.qualified}`,
      }));
    }
    const column = String(issue.path[0] ?? "");
    const col = table.column.get(column);
    const message = !Object.hasOwn(body, column)
      ? "required"
      : `${issue.message}${col ? ` (column type ${col.typeName})` : ""}`;
    return [{ column, message }];
  });
  const first = columns[0]!;
  throw new SyncError("validation_failed", `column "${first.column}": ${first.message}`, {
    columns,
  });
}

/** A key value from a JSON body or cursor, checked against its column. */
export function checkKeyValue(col: ColumnInfo, value: unknown): Row[string] {
  if (value === null || !kindSchema(col.kind, col).safeParse(value).success) {
    throw new SyncError("validation_failed", `key column "${col.name}": not a ${col.typeName}`, {
      columns: [{ column: col.name, message: `expected ${col.typeName}` }],
    });
  }
  return value as Row[string];
}

/**
 * A client's `updated_at` for last-write-wins: a real instant, not ahead of our clock by more
 * than `maxSkewMs` — otherwise one bad clock (or `infinity`) would win every later write.
 */
export function checkClientTime(value: unknown, maxSkewMs: number, now = Date.now()): void {
  const t = typeof value === "string" ? Date.parse(value) : NaN;
  const fail = (why: string) =>
    new SyncError("validation_failed", `column "updated_at": ${why}`, {
      columns: [{ column: "updated_at", message: why }],
    });
  if (Number.isNaN(t)) throw fail("expected an ISO-8601 timestamp");
  if (t > now + maxSkewMs) throw fail(`more than ${maxSkewMs / 1000} s ahead of the server clock`);
}

/** A value from the URL (a key or a list filter) as the column's JSON value. */
export function parseUrlValue(col: ColumnInfo, text: string): Row[string] {
  const fail = () =>
    new SyncError("validation_failed", `column "${col.name}": "${text}" is not a ${col.typeName}`, {
      columns: [{ column: col.name, message: `expected ${col.typeName}` }],
    });
  let value: Row[string] = text;
  switch (col.kind) {
    case "integer":
    case "float":
      value = text.trim() === "" ? NaN : Number(text);
      break;
    case "boolean":
      if (text !== "true" && text !== "false") throw fail();
      value = text === "true";
      break;
    case "json":
    case "array":
      try {
        value = JSON.parse(text);
      } catch {
        throw fail();
      }
  }
  const r = kindSchema(col.kind, col).safeParse(value);
  if (!r.success) throw fail();
  return value;
}

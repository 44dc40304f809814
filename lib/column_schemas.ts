/**
 * A column's values as zod schemas: what a request may carry (as strict as PostgreSQL's own
 * input functions, so no value the schema allows fails in the database), and what a response
 * may hold (as loose as what PostgreSQL may have stored). Both are also what /openapi.json shows.
 */
import { z } from "zod";
import type { ColumnInfo, ColumnKind } from "./catalog.ts";
import { integerPattern } from "./decimal_range.ts";
import { text } from "./text_value.ts";

const YEAR = String.raw`(?:000[1-9]|00[1-9]\d|0[1-9]\d{2}|[1-9]\d{3})`;
const LEAP_YEAR = String
  .raw`(?:\d\d(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)`;
/** A calendar date of years 1 to 9999: months and leap days as they are. */
const DATE = String.raw`(?:${YEAR}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|` +
  String.raw`(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|02-(?:0[1-9]|1\d|2[0-8]))|${LEAP_YEAR}-02-29)`;
const TIME = String.raw`(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?`;
/** PostgreSQL takes offsets up to ±15:59. */
const OFFSET_HOURS = String.raw`(?:0\d|1[0-5])`;
const ZONE = String.raw`(?:Z|[+-]${OFFSET_HOURS}(?::?[0-5]\d)?)`;
const INFINITE = "infinity|-infinity";

const INSTANT = `${DATE}(?:[T ]${TIME}${ZONE}?)?`;
export const TIMESTAMP = new RegExp(`^(?:${INSTANT}|${INFINITE})$`);
export const FINITE_TIMESTAMP = new RegExp(`^${INSTANT}$`);
export const DATE_VALUE = new RegExp(`^(?:${DATE}|${INFINITE})$`);
export const FINITE_DATE = new RegExp(`^${DATE}$`);
export const TIME_VALUE = new RegExp(`^${TIME}${ZONE}?$`);
/** RFC 3339 date-time (what `format: date-time` means), within PostgreSQL's offsets. */
export const DATE_TIME = new RegExp(
  String
    .raw`^${DATE}T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?(?:Z|[+-]${OFFSET_HOURS}:[0-5]\d)$`,
);
export const INT8 = new RegExp(`^(?:${integerPattern(-(2n ** 63n), 2n ** 63n - 1n)})$`);
const UNBOUNDED_DECIMAL =
  /^(?:-?(?:\d{1,1000}(?:\.\d{0,1000})?|\.\d{1,1000})(?:[eE][-+]?\d{1,4})?|NaN)$/;
const FLOAT4_MAX = 3.4028234663852886e38;

/**
 * A JSON value JSONB can hold: any JSON, without NUL in strings or keys. Named, so the document
 * refers to one definition.
 */
export const jsonValue: z.ZodType = z.lazy(() =>
  z.union([
    text(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(jsonValue),
    z.record(text(), jsonValue),
  ])
).meta({ id: "JsonValue" });

/** `numeric(p, s)` with s ≥ 0 and p ≥ s: at most p − s digits before the point, s after it. */
function numericBounds(col: ColumnInfo): { whole: number; scale: number } | undefined {
  const p = col.numericPrecision;
  const s = col.numericScale;
  return p !== undefined && s !== undefined && s >= 0 && p >= s
    ? { whole: p - s, scale: s }
    : undefined;
}

/** A `numeric` written as a string (how a URL, or a client keeping every digit, writes it). */
export function decimalText(col: ColumnInfo): z.ZodType {
  const bounds = numericBounds(col);
  if (!bounds) return text({ pattern: UNBOUNDED_DECIMAL, expected: "a decimal number" });
  const digits = bounds.whole > 0 ? `\\d{1,${bounds.whole}}` : "0";
  const fraction = bounds.scale > 0 ? `(?:\\.\\d{1,${bounds.scale}})?` : "";
  return text({
    pattern: new RegExp(`^(?:-?${digits}${fraction}|NaN)$`),
    expected:
      `a decimal with at most ${bounds.whole} digits before the point and ${bounds.scale} after`,
  });
}

function decimal(col: ColumnInfo): z.ZodType {
  const bounds = numericBounds(col);
  const limit = bounds ? 10 ** bounds.whole - 10 ** -bounds.scale : undefined;
  return z.union([
    limit === undefined ? z.number() : z.number().min(-limit).max(limit),
    decimalText(col),
  ]);
}

/** A value a request may write into a column of this kind. */
export function inputSchema(kind: ColumnKind, col: ColumnInfo): z.ZodType {
  switch (kind) {
    case "boolean":
      return z.boolean();
    case "integer": {
      const bits = col.intBits ?? 32;
      return z.number().int().min(-(2 ** (bits - 1))).max(2 ** (bits - 1) - 1);
    }
    case "bigint":
      return z.union([
        z.number().int(),
        text({ pattern: INT8, expected: "an integer within the 64-bit range" }),
      ]);
    case "float":
      return z.union([
        col.floatBits === 32 ? z.number().min(-FLOAT4_MAX).max(FLOAT4_MAX) : z.number(),
        z.enum(["NaN", "Infinity", "-Infinity"]),
      ]);
    case "numeric":
      return decimal(col);
    case "uuid":
      return z.guid("expected a UUID");
    case "json":
      return jsonValue;
    case "bytea":
      return z.base64("expected base64");
    case "timestamp":
      return text({ pattern: TIMESTAMP, expected: "an ISO-8601 timestamp" });
    case "date":
      return text({ pattern: DATE_VALUE, expected: "an ISO-8601 date" });
    case "time":
      return text({ pattern: TIME_VALUE, expected: "a time of day, hh:mm[:ss]" });
    case "enum":
      return z.enum((col.enumValues ?? []) as [string, ...string[]]);
    case "string":
      return text({ max: col.maxLength });
    case "array":
      return z.array(inputSchema(col.element ?? "other", col).nullable());
    case "interval":
    case "other":
      return text().describe("in the database's own text form; it checks the value");
  }
}

/** A value a response may hold for a column of this kind (anything the database may store). */
export function outputSchema(kind: ColumnKind, col: ColumnInfo): z.ZodType {
  switch (kind) {
    case "boolean":
      return z.boolean();
    case "integer":
      return z.number().int();
    case "bigint":
      return z.union([z.number().int(), z.string().regex(/^-?\d+$/)]);
    case "float":
      return z.union([z.number(), z.enum(["NaN", "Infinity", "-Infinity"])]);
    case "uuid":
      return z.guid();
    case "json":
      return z.any().describe("any JSON value");
    case "enum":
      return z.enum((col.enumValues ?? []) as [string, ...string[]]);
    case "array":
      return z.array(outputSchema(col.element ?? "other", col).nullable());
    case "numeric":
    case "bytea":
    case "timestamp":
    case "date":
    case "time":
    case "string":
    case "interval":
    case "other":
      return z.string();
  }
}

/** The last-write-wins clock as a client may write it: an RFC 3339 date-time. */
export function clockSchema(description: string): z.ZodType {
  return text({ pattern: DATE_TIME, expected: "an RFC 3339 date-time", format: "date-time" })
    .describe(description);
}

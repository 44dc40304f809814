/**
 * Row values (SPEC §2 value mapping, as both readers produce them) to what each driver sends for
 * a target column of a given kind: the write half of the type mapping in README.md.
 */
import { Buffer } from "node:buffer";
import type { JsonValue } from "../../../lib/envelope.ts";
import type { ColumnShape } from "../table_shape.ts";
import { ValueError } from "./db_errors.ts";

/** For mysql2's escaping: strings, numbers, booleans, Buffers and null only. */
export function toMySqlValue(v: JsonValue | undefined, column: ColumnShape): unknown {
  if (v === null || v === undefined) return null;
  switch (column.kind) {
    case "json":
      return JSON.stringify(v);
    case "bytes":
      return typeof v === "string" ? Buffer.from(v, "base64") : JSON.stringify(v);
    case "timestamp":
    case "timestamptz":
      return typeof v === "string" ? mysqlDateTime(v, column.name) : v;
    case "time":
      return typeof v === "string" ? v.replace(/(Z|[+-]00(:?00)?)$/, "") : v;
    case "boolean":
    case "integer":
      return typeof v === "boolean" ? Number(v) : scalar(v);
    default:
      return scalar(v);
  }
}

/** For node-postgres: text the server parses per column, Buffers for bytea. */
export function toPgValue(v: JsonValue | undefined, column: ColumnShape): unknown {
  if (v === null || v === undefined) return null;
  switch (column.kind) {
    case "json":
      return JSON.stringify(v);
    case "bytes":
      return typeof v === "string" ? Buffer.from(v, "base64") : JSON.stringify(v);
    case "boolean":
      return typeof v === "number" ? v !== 0 : typeof v === "string" ? pgBoolean(v) : v;
    case "other":
      // PostgreSQL arrays go through node-postgres' own array literal.
      return Array.isArray(v) && column.dbType.endsWith("[]") ? v : scalar(v);
    default:
      return scalar(v);
  }
}

function scalar(v: JsonValue): string | number | boolean {
  return typeof v === "object" && v !== null ? JSON.stringify(v) : v as string | number | boolean;
}

/**
 * ISO-8601 to MySQL's `YYYY-MM-DD hh:mm:ss[.ffffff]`, in UTC (the session's time zone). An
 * offset other than UTC is converted; what MySQL cannot hold (BC dates, infinity) is refused.
 */
export function mysqlDateTime(t: string, column: string): string {
  const m = /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d(?::?\d\d)?)?$/.exec(
    t.trim(),
  );
  if (!m) {
    if (/^\d{4}-\d\d-\d\d$/.test(t)) return t;
    throw new ValueError(`${column}: ${t} is not a date-time MySQL can store`);
  }
  const [, date, time, frac = "", zone] = m;
  if (!zone || /^(Z|[+-]00(:?00)?)$/.test(zone)) return `${date} ${time}${frac}`;
  const ms = Date.parse(`${date}T${time}${zone.length === 3 ? `${zone}:00` : zone}`);
  const utc = new Date(ms).toISOString(); // keeps whole seconds; the fraction is re-attached
  return `${utc.slice(0, 10)} ${utc.slice(11, 19)}${frac}`;
}

function pgBoolean(v: string): boolean | string {
  if (/^(1|t|true|y|yes|on)$/i.test(v)) return true;
  if (/^(0|f|false|n|no|off)$/i.test(v)) return false;
  return v;
}

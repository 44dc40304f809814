/**
 * MySQL/MariaDB values as envelope values (SPEC §2 value mapping), for the binlog source and the
 * sync service alike: big integers and decimals as strings, binary as base64, DATETIME as an
 * ISO-8601 local time, TIMESTAMP as an ISO-8601 UTC instant, MariaDB's JSON text parsed.
 */
import { Buffer } from "node:buffer";
import type { JsonValue, Row } from "../envelope.ts";

/** MySQL column type codes (binlog TABLE_MAP), the ones whose values need mapping. */
const TYPE = {
  TIMESTAMP: 7,
  DATE: 10,
  DATETIME: 12,
  NEWDATE: 14,
  BIT: 16,
  TIMESTAMP2: 17,
  DATETIME2: 18,
};

export interface ColumnOf {
  readonly name: string;
  readonly type: number;
}

export function mapRow(
  r: Record<string, unknown>,
  columns: readonly ColumnOf[],
  json: ReadonlySet<string>,
): Row {
  const types = new Map(columns.map((c) => [c.name, c.type]));
  const row: Row = {};
  for (const [name, v] of Object.entries(r)) {
    if (v === undefined) continue;
    row[name] = mysqlValue(v, types.get(name) ?? -1, json.has(name));
  }
  return row;
}

/**
 * A binlog or query value as an envelope value: big integers and decimals (strings already) stay
 * strings, binary becomes base64, DATETIME an ISO-8601 local time, TIMESTAMP an ISO-8601 UTC
 * instant, MariaDB's JSON text parsed. Expects zongji/mysql2 with `dateStrings` and UTC.
 */
export function mysqlValue(v: unknown, type: number, isJson = false): JsonValue {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Uint8Array) {
    if (type === TYPE.BIT) return bitValue(v);
    return Buffer.from(v).toString("base64");
  }
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) return null;
    const iso = v.toISOString();
    return type === TYPE.DATE || type === TYPE.NEWDATE
      ? iso.slice(0, 10)
      : isUtc(type)
      ? iso
      : iso.slice(0, -1);
  }
  if (typeof v === "string") {
    if (isJson) {
      try {
        return JSON.parse(v);
      } catch {
        return v;
      }
    }
    if (isUtc(type)) return `${v.replace(" ", "T")}Z`;
    if (type === TYPE.DATETIME || type === TYPE.DATETIME2) return v.replace(" ", "T");
    return v;
  }
  if (typeof v === "number") return Number.isFinite(v) ? v : String(v);
  if (typeof v === "boolean") return v;
  return v as JsonValue; // MySQL JSON columns: already parsed JSON values
}

function isUtc(type: number): boolean {
  return type === TYPE.TIMESTAMP || type === TYPE.TIMESTAMP2;
}

function bitValue(bytes: Uint8Array): JsonValue {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
}

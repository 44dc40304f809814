/**
 * Row values between SyncHub's JSON form (SPEC §2) and their Kafka Connect JSON form
 * (connect_schema.ts), both ways, so a SyncHub reader of a `{schema, payload}` topic gets back
 * the envelope the listener built. Values Connect's types cannot hold (an `infinity` date, a NaN
 * float) are null in the Connect form.
 */
import type { JsonValue, Row } from "../envelope.ts";
import {
  type ConnectSchema,
  DATE_NAME,
  fieldsOf,
  JSON_NAME,
  MICRO_TIMESTAMP_NAME,
} from "./connect_schema.ts";

const DAY_MS = 86_400_000;
const INTEGER = /^-?\d+$/;
/** V8's JSON.rawJSON (not in TypeScript's lib yet): digits JSON.stringify writes as they are. */
type Raw = { readonly rawJSON: string };
const rawJson = (JSON as unknown as { rawJSON(text: string): Raw }).rawJSON;

/** A row image in its Connect form: the struct `schema` describes (a JSON string if schemaless). */
export function toConnectRow(row: Row, schema: ConnectSchema): Row | string {
  if (schema.type === "string") return JSON.stringify(row);
  const fields = fieldsOf(schema);
  const out: Record<string, JsonValue | Raw> = {};
  for (const k in row) {
    const f = fields.get(k);
    out[k] = f ? toConnect(row[k]!, f) : row[k]!;
  }
  return out as Row;
}

function toConnect(v: JsonValue, f: ConnectSchema): JsonValue | Raw {
  if (v === null) return null;
  switch (f.name ?? f.type) {
    case JSON_NAME:
      return JSON.stringify(v);
    case DATE_NAME: {
      const ms = typeof v === "string" ? Date.parse(`${v}T00:00:00Z`) : NaN;
      return Number.isFinite(ms) ? Math.round(ms / DAY_MS) : null;
    }
    case MICRO_TIMESTAMP_NAME:
      return typeof v === "string" ? microsOf(v) : null;
    case "int16":
    case "int32":
    case "int64":
      // Integers beyond 2^53 are strings in our JSON: exact JSON integers here.
      if (typeof v === "string") return INTEGER.test(v) ? rawJson(v) : null;
      return typeof v === "number" && Number.isInteger(v) ? v : null;
    case "float64":
      return typeof v === "number" ? v : null;
    case "array":
      return Array.isArray(v) ? v.map((x) => toConnect(x, f.items!)) as JsonValue : null;
    default:
      return v;
  }
}

/** The SyncHub form of a Connect row image. */
export function fromConnectRow(row: Row | string, schema: ConnectSchema): Row {
  if (typeof row === "string") return JSON.parse(row) as Row;
  const fields = fieldsOf(schema);
  const out: Row = {};
  for (const k in row) {
    if (row[k] === undefined) continue;
    const f = fields.get(k);
    out[k] = f ? fromConnect(row[k]!, f) : row[k]!;
  }
  return out;
}

function fromConnect(v: JsonValue, f: ConnectSchema): JsonValue {
  if (v === null) return null;
  switch (f.name ?? f.type) {
    case JSON_NAME:
      return typeof v === "string" ? JSON.parse(v) : v;
    case DATE_NAME:
      return typeof v === "number" ? new Date(v * DAY_MS).toISOString().slice(0, 10) : v;
    case MICRO_TIMESTAMP_NAME:
      return typeof v === "number" || typeof v === "string" ? isoOfMicros(BigInt(v)) : v;
    case "array":
      return Array.isArray(v) ? v.map((x) => fromConnect(x, f.items!)) : v;
    default:
      return v;
  }
}

/** `2024-01-02T03:04:05.123456` (UTC, no zone) → microseconds since the epoch. */
function microsOf(iso: string): JsonValue | Raw {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?$/.exec(iso);
  if (!m) return null;
  const ms = Date.parse(`${m[1]}Z`);
  if (!Number.isFinite(ms)) return null;
  const us = BigInt(ms) * 1000n + BigInt((m[2] ?? "").padEnd(6, "0") || "0");
  return Number.isSafeInteger(Number(us)) ? Number(us) : rawJson(String(us));
}

/** Microseconds → the ISO form PostgreSQL's text gives (fraction without trailing zeros). */
function isoOfMicros(us: bigint): string {
  const ms = us / 1000n - (us % 1000n < 0n ? 1n : 0n);
  const micros = ((us % 1_000_000n) + 1_000_000n) % 1_000_000n;
  const base = new Date(Number(ms)).toISOString().slice(0, 19);
  const fraction = micros === 0n ? "" : `.${String(micros).padStart(6, "0").replace(/0+$/, "")}`;
  return `${base}${fraction}`;
}

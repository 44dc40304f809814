/**
 * PostgreSQL text values to envelope values (SPEC §2 value mapping). The same mapping serves the
 * WAL decoder and the REST API, so a row reads the same from both. It assumes the session
 * settings of `SESSION_OPTIONS` (UTC, ISO dates, hex bytea).
 */
import { parse as parseArray } from "postgres-array";
import type { JsonValue } from "../envelope.ts";

/** Startup options for every connection whose text output we decode. */
export const SESSION_OPTIONS =
  "-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=iso_8601 -c bytea_output=hex -c extra_float_digits=3";

export const OID = {
  bool: 16,
  bytea: 17,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  money: 790,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  interval: 1186,
  timetz: 1266,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
} as const;

/** Built-in array types and their element types. */
export const ARRAY_ELEMENT: Readonly<Record<number, number>> = {
  1000: OID.bool,
  1001: OID.bytea,
  1016: OID.int8,
  1005: OID.int2,
  1007: OID.int4,
  1009: OID.text,
  1028: OID.oid,
  199: OID.json,
  1021: OID.float4,
  1022: OID.float8,
  791: OID.money,
  1014: OID.bpchar,
  1015: OID.varchar,
  1182: OID.date,
  1183: OID.time,
  1115: OID.timestamp,
  1185: OID.timestamptz,
  1187: OID.interval,
  1270: OID.timetz,
  1231: OID.numeric,
  2951: OID.uuid,
  3807: OID.jsonb,
};

export type TextDecoder = (text: string) => JsonValue;

const identity: TextDecoder = (t) => t;

const SCALAR: Readonly<Record<number, TextDecoder>> = {
  [OID.bool]: (t) => t === "t",
  [OID.int2]: Number,
  [OID.int4]: Number,
  [OID.oid]: Number,
  [OID.int8]: bigInteger,
  [OID.float4]: float,
  [OID.float8]: float,
  [OID.json]: (t) => JSON.parse(t),
  [OID.jsonb]: (t) => JSON.parse(t),
  [OID.bytea]: byteaToBase64,
  [OID.timestamp]: (t) => isoTimestamp(t, false),
  [OID.timestamptz]: (t) => isoTimestamp(t, true),
};

/** Array types of user-defined elements (enum[], domain[]), learnt from the catalog. */
const learntArrays = new Map<number, number>();

export function learnArrayType(arrayOid: number, elementOid: number): void {
  if (ARRAY_ELEMENT[arrayOid] === undefined) learntArrays.set(arrayOid, elementOid);
}

/** The decoder for a column of type `oid`; unknown types (enums, domains, …) stay text. */
export function textDecoderFor(oid: number, elementOid?: number): TextDecoder {
  const scalar = SCALAR[oid];
  if (scalar) return scalar;
  const element = elementOid ?? ARRAY_ELEMENT[oid] ?? learntArrays.get(oid);
  if (element !== undefined) {
    const decodeElement = textDecoderFor(element);
    return (t) => parseArray(t, decodeElement) as JsonValue;
  }
  return identity;
}

/** Integers beyond 2^53 travel as strings so no digit is lost. */
function bigInteger(t: string): JsonValue {
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : t;
}

/** JSON has no NaN or Infinity; those stay strings. */
function float(t: string): JsonValue {
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
}

function byteaToBase64(t: string): string {
  if (!t.startsWith("\\x")) return t;
  const hex = t.slice(2);
  let binary = "";
  for (let i = 0; i < hex.length; i += 2) {
    binary += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16));
  }
  return btoa(binary);
}

/**
 * `2024-01-02 03:04:05.123456+00` → `2024-01-02T03:04:05.123456Z`, keeping every digit of
 * precision. `infinity` and BC dates have no ISO-8601 form and stay as PostgreSQL wrote them.
 */
function isoTimestamp(t: string, withZone: boolean): string {
  const m = /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d(?::?\d\d){0,2})?$/.exec(t);
  if (!m) return t;
  const [, date, time, zone] = m;
  if (!withZone || zone === undefined) return `${date}T${time}`;
  if (/^\+00(:?00)*$/.test(zone)) return `${date}T${time}Z`;
  return `${date}T${time}${zone.length === 3 ? `${zone}:00` : zone}`;
}

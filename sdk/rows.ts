/** Row keys, new ids and `where` matching, as the server does them (SPEC §4), for local rows. */
import type { JsonValue, Row, Where, WhereOperators } from "./types.ts";

/** A row's identity within its table: its key columns' values, as one string. */
export function rowKey(columns: readonly string[], row: Row): string {
  return JSON.stringify(columns.map((c) => row[c] ?? null));
}

export function keyOf(columns: readonly string[], row: Row): Row {
  return Object.fromEntries(columns.map((c) => [c, row[c] ?? null]));
}

/** The `:id` of the REST API: the key value, or a JSON array of them for a composite key. */
export function idSegment(columns: readonly string[], key: Row): string {
  const values = columns.map((c) => key[c] ?? null);
  return encodeURIComponent(values.length === 1 ? String(values[0]) : JSON.stringify(values));
}

/** A random UUID (v4), in secure contexts and insecure ones alike. */
export function newId(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const OPERATORS = new Set(["eq", "neq", "lt", "lte", "gt", "gte", "in"]);

export function matchesWhere(where: Where | undefined, row: Row): boolean {
  for (const [column, spec] of Object.entries(where ?? {})) {
    if (!Object.hasOwn(row, column)) return false;
    const actual = row[column]!;
    if (isOperators(spec)) {
      for (const [op, value] of Object.entries(spec)) {
        if (!holds(op as keyof WhereOperators, actual, value as JsonValue)) return false;
      }
    } else if (!jsonEqual(actual, spec)) return false;
  }
  return true;
}

function isOperators(spec: unknown): spec is WhereOperators {
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) return false;
  const keys = Object.keys(spec);
  return keys.length > 0 && keys.every((k) => OPERATORS.has(k));
}

function holds(op: keyof WhereOperators, actual: JsonValue, value: JsonValue): boolean {
  switch (op) {
    case "eq":
      return jsonEqual(actual, value);
    case "neq":
      return !jsonEqual(actual, value);
    case "in":
      return Array.isArray(value) && value.some((v) => jsonEqual(actual, v));
  }
  if (actual === null || value === null) return false;
  const order = compare(actual, value);
  if (order === undefined) return false;
  return op === "lt" ? order < 0 : op === "lte" ? order <= 0 : op === "gt" ? order > 0 : order >= 0;
}

function compare(a: JsonValue, b: JsonValue): number | undefined {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") {
    // Instants compare as instants, whatever their offsets; other strings by code unit.
    const x = Date.parse(a), y = Date.parse(b);
    if (/^\d{4}-\d\d-\d\d/.test(a) && !Number.isNaN(x) && !Number.isNaN(y)) return x - y;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  return undefined;
}

export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  );
}

/** The `version` column of SPEC §5.2, when the row has one. */
export function versionOf(row: Row | undefined | null): number | undefined {
  const v = row?.version;
  return typeof v === "number" ? v : undefined;
}

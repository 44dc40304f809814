/**
 * Row hashes over normalised values, so the same logical row hashes the same on MySQL and on
 * PostgreSQL (booleans as 1/0, decimals without trailing zeros, timestamps without a UTC suffix
 * or trailing fractional zeros, JSON with sorted keys, UUIDs in lower case). The timestamp column
 * and `ignore_columns` are left out (SPEC §8.2); they are still copied.
 */
import type { JsonValue, Row } from "../../lib/envelope.ts";
import type { ColumnKind, TableShape } from "./table_shape.ts";

export interface HashSpec {
  /** Hashed columns, sorted by name. */
  readonly columns: readonly { name: string; kind: ColumnKind }[];
  readonly key: readonly { name: string; kind: ColumnKind }[];
}

export function hashSpec(
  shape: TableShape,
  table: { timestamp_column?: string | undefined; ignore_columns: readonly string[] },
): HashSpec {
  const left = new Set([
    ...table.ignore_columns,
    ...(table.timestamp_column ? [table.timestamp_column] : []),
  ]);
  const kind = new Map(shape.columns.map((c) => [c.name, c.kind]));
  return {
    columns: shape.columns.filter((c) => !left.has(c.name)).map((c) => ({
      name: c.name,
      kind: c.kind,
    }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    key: shape.primaryKey.map((name) => ({ name, kind: kind.get(name) ?? "other" })),
  };
}

/** One value in canonical text; null and a missing value are kept apart from every string. */
export function normalizeValue(v: JsonValue | undefined, kind: ColumnKind): string {
  if (v === undefined) return "\u0000?";
  if (v === null) return "\u0000";
  switch (kind) {
    case "boolean":
    case "integer":
      if (typeof v === "boolean") return v ? "1" : "0";
      if (typeof v === "string" && /^-?\d+$/.test(v.trim())) return BigInt(v.trim()).toString();
      return typeof v === "number" ? String(v) : text(v);
    case "decimal":
      return typeof v === "number" || typeof v === "string" ? decimal(String(v)) : text(v);
    case "float":
      return typeof v === "number" || (typeof v === "string" && Number.isFinite(Number(v)))
        ? String(Number(v))
        : text(v);
    case "timestamp":
    case "timestamptz":
    case "time":
      return typeof v === "string" ? temporal(v) : text(v);
    case "uuid":
      return typeof v === "string" ? v.toLowerCase() : text(v);
    case "json":
      return canonicalJson(typeof v === "string" ? tryParse(v) : v);
    default:
      return typeof v === "boolean" ? (v ? "1" : "0") : text(v);
  }
}

export function rowHash(row: Row, spec: HashSpec): string {
  let text = "";
  for (const c of spec.columns) text += normalizeValue(row[c.name], c.kind) + "\u0001";
  return hash106(text);
}

/** The row's key as one string, equal on both engines: for maps, IN lists and the store. */
export function keyString(row: Row, spec: HashSpec): string {
  return JSON.stringify(spec.key.map((c) => normalizeValue(row[c.name], c.kind)));
}

/** A short, fixed-length name of a row's key for the state store. */
export function keyHash(table: string, key: string): string {
  return hash106(`${table}\u0000${key}`);
}

/** The hash of a chunk: its rows' keys and hashes in order. */
export function chunkHash(entries: Iterable<readonly [key: string, hash: string]>): string {
  let text = "";
  for (const [k, v] of entries) text += `${k}\u0001${v}\u0002`;
  return hash106(text);
}

/**
 * Two 53-bit cyrb53 hashes with different seeds, as 28 hex digits. Row hashes find differences
 * between two copies of a table, not tamper-proof signatures: a fast non-cryptographic hash keeps
 * 100,000 rows cheap (no native object per row), and 106 bits make an accidental collision
 * vanishingly rare.
 */
export function hash106(text: string): string {
  return cyrb53(text, 0x9e3779b9).toString(16).padStart(14, "0") +
    cyrb53(text, 0x85ebca6b).toString(16).padStart(14, "0");
}

function cyrb53(text: string, seed: number): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** The key columns of a row. */
export function keyOf(row: Row, spec: HashSpec): Row {
  const key: Row = {};
  for (const c of spec.key) key[c.name] = row[c.name] ?? null;
  return key;
}

function text(v: JsonValue): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** `1.50` → `1.5`, `2.000` → `2`, `-0.0` → `0`, `+3` → `3`. */
function decimal(t: string): string {
  let s = t.trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(s)) return s;
  let sign = "";
  if (s[0] === "-" || s[0] === "+") {
    sign = s[0] === "-" ? "-" : "";
    s = s.slice(1);
  }
  let [int = "", frac = ""] = s.split(".");
  int = int.replace(/^0+(?=\d)/, "") || "0";
  frac = frac.replace(/0+$/, "");
  const out = frac ? `${int}.${frac}` : int;
  return out === "0" ? "0" : sign + out;
}

/** `2024-01-02 03:04:05.120000+00:00` → `2024-01-02T03:04:05.12`. */
function temporal(t: string): string {
  let s = t.trim().replace(" ", "T");
  s = s.replace(/(Z|[+-]00(:?00)?)$/, "");
  return s.replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
}

function tryParse(t: string): JsonValue {
  try {
    return JSON.parse(t);
  } catch {
    return t;
  }
}

function canonicalJson(v: JsonValue): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(v).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k]!)}`).join(",")}}`;
}

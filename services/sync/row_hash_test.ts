import assert from "node:assert/strict";
import { hashSpec, keyString, normalizeValue, rowHash } from "./row_hash.ts";
import type { ColumnKind, TableShape } from "./table_shape.ts";

function shape(cols: [string, ColumnKind][]): TableShape {
  return {
    name: "t",
    namespace: "s",
    table: "t",
    columns: cols.map(([name, kind]) => ({ name, kind, dbType: kind, nullable: true })),
    primaryKey: ["id"],
  };
}

Deno.test("row hash: the same row as PostgreSQL and as MySQL give it hashes equal", () => {
  const cols: [string, ColumnKind][] = [
    ["id", "integer"],
    ["done", "boolean"],
    ["price", "decimal"],
    ["ratio", "float"],
    ["at", "timestamptz"],
    ["day", "date"],
    ["doc", "json"],
    ["uid", "uuid"],
    ["raw", "bytes"],
    ["note", "text"],
  ];
  const spec = hashSpec(shape(cols), { ignore_columns: [] });
  const fromPostgres = {
    id: 1,
    done: true,
    price: "12.5",
    ratio: 0.25,
    at: "2024-01-02T03:04:05.12Z",
    day: "2024-01-02",
    doc: { b: 1, a: [1, 2] },
    uid: "0E8A4A5C-0000-4000-8000-000000000001".toLowerCase(),
    raw: "AAEC",
    note: null,
  };
  const fromMySql = {
    id: 1,
    done: 1,
    price: "12.50",
    ratio: 0.25,
    at: "2024-01-02T03:04:05.120000",
    day: "2024-01-02",
    doc: '{"a": [1, 2], "b": 1}', // MariaDB JSON read as text
    uid: "0E8A4A5C-0000-4000-8000-000000000001",
    raw: "AAEC",
    note: null,
  };
  assert.equal(rowHash(fromPostgres, spec), rowHash(fromMySql, spec));
  assert.notEqual(rowHash(fromPostgres, spec), rowHash({ ...fromMySql, price: "12.51" }, spec));
  assert.notEqual(rowHash(fromPostgres, spec), rowHash({ ...fromMySql, note: "" }, spec));
  assert.notEqual(rowHash(fromPostgres, spec), rowHash({ ...fromMySql, done: 0 }, spec));
});

Deno.test("row hash: the timestamp column and ignored columns are left out", () => {
  const spec = hashSpec(
    shape([["id", "integer"], ["n", "integer"], ["updated_at", "timestamp"], ["seen", "integer"]]),
    {
      timestamp_column: "updated_at",
      ignore_columns: ["seen"],
    },
  );
  assert.deepEqual(spec.columns.map((c) => c.name), ["id", "n"]);
  const a = { id: 1, n: 2, updated_at: "2024-01-01T00:00:00", seen: 1 };
  assert.equal(
    rowHash(a, spec),
    rowHash({ ...a, updated_at: "2025-01-01T00:00:00", seen: 9 }, spec),
  );
  assert.notEqual(rowHash(a, spec), rowHash({ ...a, n: 3 }, spec));
});

Deno.test("normalised values: decimals, integers, temporal values", () => {
  assert.equal(normalizeValue("0010.500", "decimal"), "10.5");
  assert.equal(normalizeValue("-0.000", "decimal"), "0");
  assert.equal(normalizeValue("3.", "decimal"), "3");
  assert.equal(normalizeValue(12, "decimal"), "12");
  assert.equal(normalizeValue("9007199254740993", "integer"), "9007199254740993");
  assert.equal(normalizeValue(false, "boolean"), "0");
  assert.equal(normalizeValue("2024-01-02 03:04:05.000000", "timestamp"), "2024-01-02T03:04:05");
  assert.equal(normalizeValue("2024-01-02T03:04:05+00:00", "timestamptz"), "2024-01-02T03:04:05");
  assert.equal(normalizeValue("10:00:00.500", "time"), "10:00:00.5");
  assert.notEqual(normalizeValue(null, "text"), normalizeValue("", "text"));
  assert.notEqual(normalizeValue(null, "text"), normalizeValue("null", "text"));
});

Deno.test("key strings agree across engines for numeric and text keys", () => {
  const spec = hashSpec(shape([["id", "integer"], ["v", "text"]]), { ignore_columns: [] });
  assert.equal(keyString({ id: 5, v: "a" }, spec), keyString({ id: "5", v: "b" }, spec));
  assert.notEqual(keyString({ id: 5 }, spec), keyString({ id: 6 }, spec));
});

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { ColumnKind, ColumnShape } from "../table_shape.ts";
import { ValueError } from "./db_errors.ts";
import { mysqlDateTime, toMySqlValue, toPgValue } from "./values.ts";

const col = (kind: ColumnKind, dbType: string = kind): ColumnShape => ({
  name: "c",
  kind,
  dbType,
  nullable: true,
});

Deno.test("to MySQL: timestamps in UTC without zone, JSON as text, bytes decoded, booleans 1/0", () => {
  assert.equal(
    toMySqlValue("2024-01-02T03:04:05.123456Z", col("timestamptz")),
    "2024-01-02 03:04:05.123456",
  );
  assert.equal(toMySqlValue("2024-01-02T03:04:05", col("timestamp")), "2024-01-02 03:04:05");
  assert.equal(mysqlDateTime("2024-01-02T03:04:05.5+02:00", "c"), "2024-01-02 01:04:05.5");
  assert.throws(() => toMySqlValue("infinity", col("timestamptz")), ValueError);
  assert.equal(toMySqlValue({ a: [1, "x"] }, col("json")), '{"a":[1,"x"]}');
  assert.equal(toMySqlValue("a string", col("json")), '"a string"');
  assert.deepEqual(toMySqlValue("AAEC", col("bytes")), Buffer.from([0, 1, 2]));
  assert.equal(toMySqlValue(true, col("integer", "tinyint")), 1);
  assert.equal(toMySqlValue(["a", "b"], col("text")), '["a","b"]');
  assert.equal(toMySqlValue(null, col("text")), null);
});

Deno.test("to PostgreSQL: booleans from 1/0, JSON as text, arrays kept for array columns", () => {
  assert.equal(toPgValue(1, col("boolean")), true);
  assert.equal(toPgValue(0, col("boolean")), false);
  assert.equal(toPgValue({ a: 1 }, col("json")), '{"a":1}');
  assert.deepEqual(toPgValue([1, 2], col("other", "integer[]")), [1, 2]);
  assert.equal(toPgValue([1, 2], col("text")), "[1,2]");
  assert.deepEqual(toPgValue("AAEC", col("bytes")), Buffer.from([0, 1, 2]));
  assert.equal(toPgValue("2024-01-02T03:04:05", col("timestamptz")), "2024-01-02T03:04:05");
});

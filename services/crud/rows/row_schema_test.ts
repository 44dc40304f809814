import assert from "node:assert/strict";
import { SyncError } from "../../../lib/errors.ts";
import type { TableInfo } from "../../../lib/catalog.ts";
import { tableInfo } from "../../../tests/support/tables.ts";
import { parseUrlValue, validateRow } from "./row_schema.ts";

function todos(): TableInfo {
  const t = tableInfo("public.todos", {
    id: "uuid",
    bucket: "string",
    title: "string",
    done: "boolean",
    n: "integer",
    big: "bigint",
    price: "numeric",
    at: "timestamp",
    meta: "json",
    blob: "bytea",
    tags: "array",
  });
  const tweak = (name: string, patch: Record<string, unknown>) => {
    const col = { ...t.column.get(name)!, ...patch };
    return col;
  };
  const columns = t.columns.map((c) =>
    c.name === "id"
      ? tweak("id", { notNull: true, hasDefault: true })
      : c.name === "title"
      ? tweak("title", { notNull: true, maxLength: 10 })
      : c.name === "n"
      ? tweak("n", { intBits: 16 })
      : c.name === "tags"
      ? tweak("tags", { element: "string" })
      : c
  );
  return { ...t, columns, column: new Map(columns.map((c) => [c.name, c])) };
}

const table = todos();

function refused(
  body: unknown,
  mode: "insert" | "replace" | "patch",
  column: string,
  pattern?: RegExp,
) {
  assert.throws(() => validateRow(table, body, mode), (e) => {
    assert.ok(e instanceof SyncError, String(e));
    assert.equal(e.code, "validation_failed");
    assert.match(e.message, new RegExp(`"${column}"`));
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("a well-formed row passes with its values", () => {
  const row = {
    title: "milk",
    done: true,
    n: 7,
    big: "9007199254740993",
    price: "10.50",
    at: "2024-01-02T03:04:05.123456Z",
    meta: { a: [1] },
    blob: "AP8Q",
    tags: ["x", null],
    bucket: null,
  };
  assert.deepEqual(validateRow(table, row, "insert"), row);
});

Deno.test("unknown columns, wrong types and missing required values name the column", () => {
  refused({ title: "x", nope: 1 }, "insert", "nope", /unknown column/);
  refused({ title: 5 }, "insert", "title", /expected string/);
  refused({ title: "x", done: "yes" }, "insert", "done");
  refused({ title: "x", n: 40000 }, "insert", "n");
  refused({ title: "x", n: 1.5 }, "insert", "n");
  refused({ title: "x", big: "12a" }, "insert", "big");
  refused({ title: "x", big: "9223372036854775808" }, "insert", "big", /range/);
  refused({ title: "x", price: "ten" }, "insert", "price");
  refused({ title: "x", at: "yesterday" }, "insert", "at");
  refused({ title: "x", id: "not-a-uuid" }, "insert", "id");
  refused({ title: "x", blob: "***" }, "insert", "blob");
  refused({ title: "x", tags: [1] }, "insert", "tags");
  refused({ title: "01234567890" }, "insert", "title");
  refused({ done: true }, "insert", "title", /required/);
  refused({ title: null }, "patch", "title");
});

Deno.test("patch needs nothing; replace needs required columns but not the key", () => {
  assert.deepEqual(validateRow(table, {}, "patch"), {});
  assert.deepEqual(validateRow(table, { title: "t" }, "replace"), { title: "t" });
  refused({ done: true }, "replace", "title", /required/);
});

Deno.test("a body that is not an object is refused", () => {
  for (const body of [null, [], "x", 3]) {
    assert.throws(() => validateRow(table, body, "insert"), /JSON object/);
  }
});

Deno.test("read-only columns cannot be written", () => {
  const cols = table.columns.map((c) => c.name === "n" ? { ...c, readOnly: true } : c);
  const t = { ...table, columns: cols, column: new Map(cols.map((c) => [c.name, c])) };
  assert.throws(() => validateRow(t, { title: "x", n: 1 }, "insert"), /"n" is generated/);
});

Deno.test("URL values parse by column type", () => {
  assert.equal(parseUrlValue(table.column.get("n")!, "12"), 12);
  assert.equal(parseUrlValue(table.column.get("done")!, "false"), false);
  assert.equal(parseUrlValue(table.column.get("big")!, "9007199254740993"), "9007199254740993");
  assert.throws(() => parseUrlValue(table.column.get("n")!, "twelve"), /"n"/);
  assert.throws(() => parseUrlValue(table.column.get("n")!, ""), /"n"/);
  assert.throws(() => parseUrlValue(table.column.get("id")!, "x"), /"id"/);
});

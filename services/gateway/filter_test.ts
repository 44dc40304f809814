import assert from "node:assert/strict";
import { grantOf } from "../../lib/buckets.ts";
import { SyncError } from "../../lib/errors.ts";
import { sampleEnvelope } from "../../tests/support/envelopes.ts";
import { tableInfo } from "../../tests/support/tables.ts";
import { compileWhere, deliveryFor, matches, movedEnvelope } from "./filter.ts";
import type { BucketGrant } from "../../lib/buckets.ts";
import type { Envelope } from "../../lib/envelope.ts";
import type { Filter } from "./filter.ts";

const visibleTo = (g: BucketGrant, f: Filter, t: typeof todos, e: Envelope) =>
  deliveryFor(g, f, t, e) === "send";

const todos = tableInfo("public.todos", {
  id: "uuid",
  bucket: "string",
  title: "string",
  done: "boolean",
  n: "integer",
  big: "bigint",
  price: "numeric",
  at: "timestamp",
  meta: "json",
});

const row = {
  id: "a",
  bucket: "b1",
  title: "milk",
  done: false,
  n: 5,
  big: "90071992547409930",
  price: "10.50",
  at: "2024-05-01T10:00:00Z",
  meta: { tags: ["x"] },
};

const m = (where: Record<string, unknown>) => matches(compileWhere(where as never, todos), row);

Deno.test("equality, operators and in", () => {
  assert.equal(m({}), true);
  assert.equal(m({ done: false }), true);
  assert.equal(m({ done: true }), false);
  assert.equal(m({ n: { gt: 4, lte: 5 } }), true);
  assert.equal(m({ n: { gt: 5 } }), false);
  assert.equal(m({ n: { neq: 5 } }), false);
  assert.equal(m({ title: { in: ["eggs", "milk"] } }), true);
  assert.equal(m({ title: { lt: "n" } }), true);
  assert.equal(m({ meta: { tags: ["x"] } }), true, "JSON equality is structural");
});

Deno.test("big integers, numerics and timestamps compare by value, not as text", () => {
  assert.equal(m({ big: { gt: "9007199254740993" } }), true);
  assert.equal(m({ big: { gt: 100 } }), true);
  assert.equal(m({ price: { gt: "9.99" } }), true, "10.50 > 9.99 although '1' < '9'");
  assert.equal(m({ at: { gte: "2024-05-01" } }), true);
  assert.equal(m({ at: { lt: "2024-05-01T09:59:59Z" } }), false);
});

Deno.test("null never orders; eq null means is null", () => {
  const r = { ...row, title: null };
  assert.equal(matches(compileWhere({ title: null }, todos), r), true);
  assert.equal(matches(compileWhere({ title: { gt: "a" } }, todos), r), false);
  assert.equal(matches(compileWhere({ title: { neq: null } }, todos), row), true);
});

Deno.test("a column missing from the row (unsent TOAST value) does not match", () => {
  const { title: _t, ...partial } = row;
  assert.equal(matches(compileWhere({ title: "milk" }, todos), partial), false);
});

Deno.test("bad filters are refused at subscribe time, naming the column", () => {
  const refused = (where: Record<string, unknown>, pattern: RegExp) =>
    assert.throws(() => compileWhere(where as never, todos), (e) => {
      assert.ok(e instanceof SyncError && e.code === "bad_request");
      assert.match(e.message, pattern);
      return true;
    });
  refused({ nope: 1 }, /unknown column "nope"/);
  refused({ done: { gt: true } }, /done\.gt.*no order/);
  refused({ n: { gt: "five" } }, /n\.gt/);
  refused({ n: { lt: null } }, /null/);
  refused({ title: { in: "milk" } }, /array/);
  refused({ n: { between: [1, 2] } }, /unknown operator "between"/);
  refused({ n: {} }, /empty operator object/);
  refused({ n: { gt: [1, 2] } }, /n\.gt/);
});

Deno.test("delivery follows the token's buckets, deletes judged by their old row", () => {
  const a = grantOf(["b1"]);
  const other = grantOf(["b2"]);
  const create = sampleEnvelope();
  const del = sampleEnvelope({
    op: "d",
    before: { id: "a", bucket: "b1", title: "x" },
    after: null,
  });
  assert.equal(visibleTo(a, [], todos, create), true);
  assert.equal(visibleTo(other, [], todos, create), false);
  assert.equal(visibleTo(a, [], todos, del), true);
  assert.equal(visibleTo(other, [], todos, del), false);
  const unbucketed = sampleEnvelope({ bucket: null, after: { id: "z", bucket: null, title: "x" } });
  assert.equal(visibleTo(other, [], todos, unbucketed), true);
});

Deno.test("a delete without its old row reaches only '*' tokens on a bucketed table", () => {
  const del = sampleEnvelope({ op: "d", before: null, after: null, bucket: null });
  assert.equal(visibleTo(grantOf(["b1"]), [], todos, del), false);
  assert.equal(visibleTo(grantOf(["*"]), [], todos, del), true);
  const unbucketedTable = tableInfo("public.logs", { id: "uuid" });
  assert.equal(visibleTo(grantOf(["b1"]), [], unbucketedTable, del), true);
});

Deno.test("filters apply to deletes through their old row; truncates reach everyone", () => {
  const f = compileWhere({ done: true }, todos);
  const del = sampleEnvelope({ op: "d", before: { ...row, done: true }, after: null });
  assert.equal(visibleTo(grantOf(["b1"]), f, todos, del), true);
  assert.equal(visibleTo(grantOf(["b1"]), f, todos, sampleEnvelope({ after: row })), false);
  const t = sampleEnvelope({ op: "t", before: null, after: null, key: {}, bucket: null });
  assert.equal(visibleTo(grantOf(["b2"]), f, todos, t), true);
});

Deno.test("an update moving a row between buckets is a move out for one and a move in for the other", () => {
  const before = { ...row, bucket: "b1" };
  const after = { ...row, bucket: "b2", title: "renamed" };
  const e = sampleEnvelope({ op: "u", before, after, bucket: "b2", changed: ["bucket", "title"] });
  assert.equal(deliveryFor(grantOf(["b1"]), [], todos, e), "moved_out");
  assert.equal(deliveryFor(grantOf(["b2"]), [], todos, e), "moved_in");
  assert.equal(deliveryFor(grantOf(["b1", "b2"]), [], todos, e), "send");
  assert.equal(deliveryFor(grantOf(["b3"]), [], todos, e), null);

  const out = movedEnvelope(e, "moved_out", todos);
  assert.deepEqual([out.op, out.after, out.before, out.bucket, out.id], [
    "d",
    null,
    before,
    "b1",
    `${e.id}~out`,
  ]);
  const into = movedEnvelope(e, "moved_in", todos);
  assert.deepEqual([into.op, into.before, into.after, into.changed], ["c", null, after, null]);
});

Deno.test("an update leaving or entering a filter is announced the same way", () => {
  const f = compileWhere({ done: false }, todos);
  const closing = sampleEnvelope({
    op: "u",
    before: { ...row, done: false },
    after: { ...row, done: true },
    bucket: "b1",
  });
  assert.equal(deliveryFor(grantOf(["b1"]), f, todos, closing), "moved_out");
  const reopening = sampleEnvelope({
    op: "u",
    before: { ...row, done: true },
    after: { ...row, done: false },
    bucket: "b1",
  });
  assert.equal(deliveryFor(grantOf(["b1"]), f, todos, reopening), "moved_in");
  const noOld = sampleEnvelope({
    op: "u",
    before: null,
    after: { ...row, done: false },
    bucket: "b1",
  });
  assert.equal(deliveryFor(grantOf(["b1"]), f, todos, noOld), "send");
});

Deno.test("schemaless collections filter on any field, ordering by JSON type", () => {
  const coll = { ...tableInfo("app.todos", {}, { primaryKey: ["_id"] }), schemaless: true };
  const f = compileWhere({ n: { gt: 2 }, tag: "x" }, coll);
  assert.equal(matches(f, { n: 3, tag: "x" }), true);
  assert.equal(matches(f, { n: "3", tag: "x" }), false, "a string is not ordered against a number");
  assert.equal(matches(f, { tag: "x" }), false, "a missing field does not match");
  assert.throws(() => compileWhere({ n: 1 }, tableInfo("app.fixed", {})), /unknown column/);
});

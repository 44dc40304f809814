import assert from "node:assert/strict";
import { principalOf, readScope } from "../../lib/access.ts";
import { accessPolicy } from "../../lib/access_policy.ts";
import type { TableInfo } from "../../lib/catalog.ts";
import type { Envelope } from "../../lib/envelope.ts";
import { SyncError } from "../../lib/errors.ts";
import { sampleEnvelope } from "../../tests/support/envelopes.ts";
import { tableInfo } from "../../tests/support/tables.ts";
import {
  bucketUnknown,
  compileWhere,
  deliveryFor,
  type Filter,
  matches,
  movedEnvelope,
  type View,
} from "./filter.ts";

const policy = accessPolicy(undefined, "bucket");

/** What a token with these buckets (and role) may see of a table, per the built-in policy. */
function viewOf(buckets: string[], table: TableInfo = todos, role?: string): View {
  const rule = policy.rule(table);
  const scope = readScope(principalOf({ sub: "t", buckets, role }), rule);
  assert.ok(scope, "the token may read the table");
  return { scope, rule };
}

const visibleTo = (v: View, f: Filter, e: Envelope) => deliveryFor(v, f, e) === "send";

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
  const a = viewOf(["b1"]);
  const other = viewOf(["b2"]);
  const create = sampleEnvelope();
  const del = sampleEnvelope({
    op: "d",
    before: { id: "a", bucket: "b1", title: "x" },
    after: null,
  });
  assert.equal(visibleTo(a, [], create), true);
  assert.equal(visibleTo(other, [], create), false);
  assert.equal(visibleTo(a, [], del), true);
  assert.equal(visibleTo(other, [], del), false);
  // Null-bucket rows are for admins and '*' tokens unless the table shares them.
  const unbucketed = sampleEnvelope({ bucket: null, after: { id: "z", bucket: null, title: "x" } });
  assert.equal(visibleTo(other, [], unbucketed), false);
  assert.equal(visibleTo(viewOf(["*"]), [], unbucketed), true);
  assert.equal(visibleTo(viewOf([], todos, "admin"), [], unbucketed), true);
});

Deno.test("a change whose bucket cannot be determined reaches only admins and '*' tokens", () => {
  // The bucket column is missing from the row image (MINIMAL image, a MongoDB update without
  // its document): it belongs to no one, never to everyone.
  const blind = sampleEnvelope({ after: { id: "a", title: "x" }, bucket: null });
  assert.equal(bucketUnknown(viewOf(["b1"]).rule, blind), true);
  assert.equal(visibleTo(viewOf(["b1"]), [], blind), false);
  assert.equal(visibleTo(viewOf([]), [], blind), false);
  assert.equal(visibleTo(viewOf(["*"]), [], blind), true);
  assert.equal(visibleTo(viewOf([], todos, "admin"), [], blind), true);
  assert.equal(bucketUnknown(viewOf(["b1"]).rule, sampleEnvelope()), false);
});

Deno.test("a delete without its old row reaches only whole-table readers", () => {
  const del = sampleEnvelope({ op: "d", before: null, after: null, bucket: null });
  assert.equal(visibleTo(viewOf(["b1"]), [], del), false);
  assert.equal(visibleTo(viewOf(["*"]), [], del), true);
  const logs = tableInfo("public.logs", { id: "uuid" });
  assert.equal(visibleTo(viewOf([], logs, "admin"), [], del), true);
});

Deno.test("filters apply to deletes through their old row; truncates reach every reader", () => {
  const f = compileWhere({ done: true }, todos);
  const del = sampleEnvelope({ op: "d", before: { ...row, done: true }, after: null });
  assert.equal(visibleTo(viewOf(["b1"]), f, del), true);
  assert.equal(visibleTo(viewOf(["b1"]), f, sampleEnvelope({ after: row })), false);
  const t = sampleEnvelope({ op: "t", before: null, after: null, key: {}, bucket: null });
  assert.equal(visibleTo(viewOf(["b2"]), f, t), true);
});

Deno.test("an update moving a row between buckets is a move out for one and a move in for the other", () => {
  const before = { ...row, bucket: "b1" };
  const after = { ...row, bucket: "b2", title: "renamed" };
  const e = sampleEnvelope({ op: "u", before, after, bucket: "b2", changed: ["bucket", "title"] });
  assert.equal(deliveryFor(viewOf(["b1"]), [], e), "moved_out");
  assert.equal(deliveryFor(viewOf(["b2"]), [], e), "moved_in");
  assert.equal(deliveryFor(viewOf(["b1", "b2"]), [], e), "send");
  assert.equal(deliveryFor(viewOf(["b3"]), [], e), null);

  const out = movedEnvelope(e, "moved_out", viewOf(["b1"]).rule);
  assert.deepEqual([out.op, out.after, out.before, out.bucket, out.id], [
    "d",
    null,
    before,
    "b1",
    `${e.id}~out`,
  ]);
  const into = movedEnvelope(e, "moved_in", viewOf(["b2"]).rule);
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
  assert.equal(deliveryFor(viewOf(["b1"]), f, closing), "moved_out");
  const reopening = sampleEnvelope({
    op: "u",
    before: { ...row, done: true },
    after: { ...row, done: false },
    bucket: "b1",
  });
  assert.equal(deliveryFor(viewOf(["b1"]), f, reopening), "moved_in");
  const noOld = sampleEnvelope({
    op: "u",
    before: null,
    after: { ...row, done: false },
    bucket: "b1",
  });
  assert.equal(deliveryFor(viewOf(["b1"]), f, noOld), "send");
});

Deno.test("schemaless collections filter on any field, ordering by JSON type", () => {
  const coll = { ...tableInfo("app.todos", {}, { primaryKey: ["_id"] }), schemaless: true };
  const f = compileWhere({ n: { gt: 2 }, tag: "x" }, coll);
  assert.equal(matches(f, { n: 3, tag: "x" }), true);
  assert.equal(matches(f, { n: "3", tag: "x" }), false, "a string is not ordered against a number");
  assert.equal(matches(f, { tag: "x" }), false, "a missing field does not match");
  assert.throws(() => compileWhere({ n: 1 }, tableInfo("app.fixed", {})), /unknown column/);
});

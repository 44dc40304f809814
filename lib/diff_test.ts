import assert from "node:assert/strict";
import { changedColumns, jsonEqual } from "./diff.ts";

Deno.test("jsonEqual compares JSON values structurally", () => {
  assert.equal(jsonEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }), true);
  assert.equal(jsonEqual({ a: 1, b: 2 }, { b: 2, a: 1 }), true);
  assert.equal(jsonEqual({ a: 1 }, { a: 1, b: null }), false);
  assert.equal(jsonEqual([1, 2], [2, 1]), false);
  assert.equal(jsonEqual([], {}), false);
  assert.equal(jsonEqual("1", 1), false);
  assert.equal(jsonEqual(null, {}), false);
});

Deno.test("changedColumns lists only columns whose values differ", () => {
  const before = { id: 1, title: "a", tags: ["x"], meta: { n: 1 }, done: false };
  const after = { id: 1, title: "b", tags: ["x"], meta: { n: 2 }, done: false };
  assert.deepEqual(changedColumns(before, after), ["title", "meta"]);
  assert.deepEqual(changedColumns(before, before), []);
});

Deno.test("a column the source did not send is never listed", () => {
  // `body` is an unchanged TOAST value: absent from after.
  assert.deepEqual(changedColumns({ id: 1, body: "long", n: 1 }, { id: 1, n: 2 }), ["n"]);
  assert.deepEqual(changedColumns({ id: 1 }, { id: 1, added: 5 }), ["added"]);
});

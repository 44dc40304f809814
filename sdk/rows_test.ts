import assert from "node:assert/strict";
import { idSegment, matchesWhere, newId, rowKey } from "./rows.ts";

Deno.test("where matches as the gateway's filter does", () => {
  const row = { id: "a", done: false, n: 5, at: "2024-01-02T00:00:00Z", tags: ["x"] };
  assert.ok(matchesWhere(undefined, row));
  assert.ok(matchesWhere({ done: false }, row));
  assert.ok(!matchesWhere({ done: true }, row));
  assert.ok(matchesWhere({ n: { gt: 4, lte: 5 } }, row));
  assert.ok(!matchesWhere({ n: { lt: 5 } }, row));
  assert.ok(matchesWhere({ n: { in: [1, 5] } }, row));
  assert.ok(matchesWhere({ at: { gte: "2024-01-02T01:00:00+02:00" } }, row));
  assert.ok(matchesWhere({ tags: ["x"] }, row));
  assert.ok(!matchesWhere({ missing: 1 }, row), "a column the row lacks does not match");
  assert.ok(!matchesWhere({ n: { gt: null as unknown as number } }, row));
});

Deno.test("keys and ids", () => {
  assert.equal(rowKey(["id"], { id: "a", x: 1 }), '["a"]');
  assert.equal(idSegment(["id"], { id: "a b" }), "a%20b");
  assert.equal(idSegment(["a", "b"], { a: 1, b: "x" }), encodeURIComponent('[1,"x"]'));
  assert.match(newId(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

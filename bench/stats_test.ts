import assert from "node:assert/strict";
import { rowId } from "./client.ts";
import { percentile, summarize } from "./stats.ts";

Deno.test("percentiles use the nearest rank", () => {
  const s = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(s, 0.5), 50);
  assert.equal(percentile(s, 0.99), 99);
  assert.equal(percentile(s, 1), 100);
  assert.equal(percentile([7], 0.99), 7);
  assert.ok(Number.isNaN(percentile([], 0.5)));
  assert.deepEqual(summarize([3, 1, 2]), { count: 3, p50: 2, p99: 3, max: 3 });
});

Deno.test("the bench reads a row id from a change frame without parsing it", () => {
  const frame = JSON.stringify({
    type: "change",
    sub: "s1",
    cursor: "c1.x.1",
    change: { id: "pg:1", key: { id: 4217 }, after: { id: 4217 } },
  });
  assert.equal(rowId(new TextEncoder().encode(frame)), 4217);
  assert.throws(() => rowId(new TextEncoder().encode('{"type":"change"}')));
});

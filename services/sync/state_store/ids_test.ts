import assert from "node:assert/strict";
import { newId } from "./ids.ts";

Deno.test("ids: UUIDv7-shaped and sorted in creation order, also within one millisecond", () => {
  const ids = Array.from({ length: 5000 }, (_, i) => newId(1_700_000_000_000 + (i >> 10)));
  for (const id of ids) {
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  }
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(ids).size, ids.length);
});

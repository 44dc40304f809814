import assert from "node:assert/strict";
import { checkChange, planBatchRow, type RealtimeCheck } from "./conflict.ts";

const check = (over: Partial<RealtimeCheck>): RealtimeCheck => ({
  op: "u",
  beforeHash: "B",
  afterHash: "A",
  targetHash: "B",
  targetDeleted: false,
  ...over,
});

Deno.test("realtime: target as the source's before → apply; as its after → skip", () => {
  assert.equal(checkChange(check({})).kind, "apply");
  assert.equal(checkChange(check({ targetHash: "A" })).kind, "skip");
  assert.equal(checkChange(check({ op: "c", beforeHash: null, targetHash: null })).kind, "apply");
  assert.equal(checkChange(check({ op: "c", beforeHash: null, targetHash: "A" })).kind, "skip");
});

Deno.test("realtime: the target changed too → a conflict", () => {
  assert.deepEqual(checkChange(check({ targetHash: "X" })), {
    kind: "conflict",
    type: "update_update",
  });
  // An insert meeting a different row with the same key.
  assert.deepEqual(checkChange(check({ op: "c", beforeHash: null, targetHash: "X" })), {
    kind: "conflict",
    type: "update_update",
  });
  // Updated here, deleted there.
  assert.deepEqual(checkChange(check({ targetHash: null, targetDeleted: true })), {
    kind: "conflict",
    type: "update_delete",
  });
});

Deno.test("realtime deletes: applied when the target still has the old row; a conflict otherwise", () => {
  assert.equal(checkChange(check({ op: "d", afterHash: null, targetHash: "B" })).kind, "apply");
  assert.equal(checkChange(check({ op: "d", afterHash: null, targetHash: null })).kind, "skip");
  assert.deepEqual(checkChange(check({ op: "d", afterHash: null, targetHash: "X" })), {
    kind: "conflict",
    type: "update_delete",
  });
});

Deno.test("realtime: without a before image an update applies (nothing to compare with)", () => {
  assert.equal(checkChange(check({ beforeHash: null, targetHash: "X" })).kind, "apply");
  assert.equal(checkChange(check({ beforeHash: null, targetHash: null })).kind, "apply");
});

Deno.test("batch: missing rows are copied unless deleted in realtime; differing ones by mode", () => {
  const base = { sourceHash: "S", bidirectional: false, tombstoned: false };
  assert.equal(planBatchRow({ ...base, targetHash: null }), "copy");
  assert.equal(planBatchRow({ ...base, targetHash: null, tombstoned: true }), "skip");
  assert.equal(planBatchRow({ ...base, targetHash: "S" }), "skip");
  assert.equal(planBatchRow({ ...base, targetHash: "T" }), "copy");
  assert.equal(planBatchRow({ ...base, targetHash: "T", bidirectional: true }), "conflict");
});

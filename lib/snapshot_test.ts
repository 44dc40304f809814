import assert from "node:assert/strict";
import { snapshotVisibility } from "./snapshot.ts";

Deno.test("a transaction is in a snapshot when it ended before it and was not running", () => {
  const s = snapshotVisibility("100:110:103,107");
  assert.equal(s.includes("99"), true, "below xmin: finished before the snapshot");
  assert.equal(s.includes("100"), true);
  assert.equal(s.includes("103"), false, "running when the snapshot was taken");
  assert.equal(s.includes("107"), false);
  assert.equal(s.includes("108"), true);
  assert.equal(s.includes("110"), false, "at or above xmax: started after");
  assert.equal(s.includes(null), false);
  assert.equal(s.includes("abc"), false);
});

Deno.test("32-bit xids from the WAL are widened with the snapshot's epoch", () => {
  const epoch = 3n << 32n;
  const s = snapshotVisibility(`${epoch + 5n}:${epoch + 20n}:`);
  assert.equal(s.includes("10"), true);
  assert.equal(s.includes("25"), false);
  // Just before the wrap: an xid of the previous epoch.
  const wrap = snapshotVisibility(`${epoch - 10n}:${epoch + 2n}:`);
  assert.equal(wrap.includes(String(2 ** 32 - 5)), true);
  assert.equal(wrap.includes(String(2 ** 32 - 20)), true);
  assert.equal(wrap.includes("3"), false);
});

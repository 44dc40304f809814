import assert from "node:assert/strict";
import { inSnapshot, xidSnapshot } from "./snapshot.ts";

Deno.test("a transaction is in a snapshot when it ended before it and was not running", () => {
  const s = xidSnapshot("100:110:103,107");
  assert.equal(s("99"), true, "below xmin: finished before the snapshot");
  assert.equal(s("100"), true);
  assert.equal(s("103"), false, "running when the snapshot was taken");
  assert.equal(s("107"), false);
  assert.equal(s("108"), true);
  assert.equal(s("110"), false, "at or above xmax: started after");
  assert.equal(s(null), false);
  assert.equal(s("abc"), false);
});

Deno.test("32-bit xids from the WAL are widened with the snapshot's epoch", () => {
  const epoch = 3n << 32n;
  const s = xidSnapshot(`${epoch + 5n}:${epoch + 20n}:`);
  assert.equal(s("10"), true);
  assert.equal(s("25"), false);
  // Just before the wrap: an xid of the previous epoch.
  const wrap = xidSnapshot(`${epoch - 10n}:${epoch + 2n}:`);
  assert.equal(wrap(String(2 ** 32 - 5)), true);
  assert.equal(wrap(String(2 ** 32 - 20)), true);
  assert.equal(wrap("3"), false);
});

Deno.test("position visibility: changes at or before the snapshot's position", () => {
  const seen = inSnapshot({ kind: "position", position: "binlog.000002:00000400:0000000000" });
  assert.equal(seen({ txId: null, position: "binlog.000002:00000300:0000000003" }), true);
  assert.equal(seen({ txId: null, position: "binlog.000002:00000500:0000000001" }), false);
  const xid = inSnapshot({ kind: "xid", snapshot: "100:110:103" });
  assert.equal(xid({ txId: "101", position: "x" }), true);
  assert.equal(xid({ txId: "103", position: "x" }), false);
});

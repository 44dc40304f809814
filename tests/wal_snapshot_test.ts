/**
 * The PostgreSQL initial snapshot (SPEC §11, SNAPSHOT_MODE=initial) against a real server: rows
 * as `op:"r"` read as of the new slot's start, then the WAL after it — no gap, no double — and a
 * snapshot that never reached the bus is taken again.
 */
import assert from "node:assert/strict";
import { testDatabase } from "./support/postgres.ts";
import { MemoryPositionStore } from "./support/positions.ts";
import { runSource } from "./support/wal.ts";
import { waitFor } from "./support/wait.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const slotName = () => `s_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`;

Deno.test(
  "a new slot publishes every row as op r, the last one marked, then the WAL after it",
  opts,
  async () => {
    const db = await testDatabase();
    await db.sql("CREATE TABLE items (id int PRIMARY KEY, v text)");
    await db.sql("INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 4500) g");
    // Writes go on while the slot is created and the snapshot read: each lands exactly once,
    // in the snapshot or in the stream.
    let writing = true;
    let next = 4501;
    const writer = (async () => {
      while (writing) await db.sql("INSERT INTO items VALUES ($1, 'late')", [next++]);
    })();
    const positions = new MemoryPositionStore();
    const slot = slotName();
    const run = await runSource(db.url, slot, { snapshotMode: "initial", positions });
    try {
      writing = false;
      await writer;
      await db.sql("UPDATE items SET v = 'changed' WHERE id = 1");
      await db.sql("DELETE FROM items WHERE id = 2");
      const all = await waitFor(() => {
        const es = run.envelopes().filter((e) => e.source.table === "items");
        return es.some((e) => e.op === "d") ? es : undefined;
      }, "the delete after the snapshot");
      const reads = all.filter((e) => e.op === "r");
      const creates = all.filter((e) => e.op === "c");
      assert.ok(reads.length >= 4500, `${reads.length} snapshot rows`);
      assert.ok(
        reads.every((e, i) => e.source.snapshot === (i === reads.length - 1 ? "last" : "true")),
      );
      assert.ok(reads.every((e) => e.after !== null && e.before === null));
      const seen = [...reads, ...creates].map((e) => e.key.id as number).sort((a, b) => a - b);
      assert.deepEqual(seen, Array.from({ length: next - 1 }, (_, i) => i + 1), "each row once");
      assert.ok(creates.length > 0, "some writes landed after the slot's start");
      // Streaming starts where the snapshot ends: the snapshot comes first, whole.
      const firstLive = all.findIndex((e) => e.op !== "r");
      assert.equal(firstLive, reads.length);
      assert.equal(positions.saved.get(`snapshot:${slot}`), "done");
    } finally {
      writing = false;
      await run.stop();
      await db.drop();
    }
  },
);

Deno.test("SNAPSHOT_MODE=never starts at the slot with no rows published", opts, async () => {
  const db = await testDatabase();
  await db.sql("CREATE TABLE quiet (id int PRIMARY KEY)");
  await db.sql("INSERT INTO quiet VALUES (1), (2)");
  const run = await runSource(db.url, slotName(), { snapshotMode: "never" });
  try {
    await db.sql("INSERT INTO quiet VALUES (3)");
    const [e] = await run.waitForEnvelopes(1);
    assert.deepEqual([e!.op, e!.key], ["c", { id: 3 }]);
  } finally {
    await run.stop();
    await db.drop();
  }
});

Deno.test("a snapshot the bus never confirmed is taken again on the next start", opts, async () => {
  const db = await testDatabase();
  await db.sql("CREATE TABLE again (id int PRIMARY KEY)");
  await db.sql("INSERT INTO again VALUES (1), (2), (3)");
  const positions = new MemoryPositionStore();
  const slot = slotName();
  const first = await runSource(db.url, slot, {
    snapshotMode: "initial",
    positions,
    confirm: false,
  });
  await first.stop();
  assert.equal(positions.saved.get(`snapshot:${slot}`), "pending");
  await db.sql("INSERT INTO again VALUES (4)");
  const second = await runSource(db.url, slot, { snapshotMode: "initial", positions });
  try {
    const reads = await waitFor(() => {
      const r = second.envelopes().filter((e) => e.op === "r");
      return r.length >= 4 ? r : undefined;
    }, "the snapshot again");
    assert.deepEqual(reads.map((e) => e.key.id), [1, 2, 3, 4]);
    assert.equal(second.envelopes().filter((e) => e.op === "c").length, 0, "no double");
    await waitFor(() => positions.saved.get(`snapshot:${slot}`) === "done", "done");
  } finally {
    await second.stop();
    await db.drop();
  }
});

/**
 * Bounded memory and nothing lost (issue 12): transactions of any size stream in parts and are
 * confirmed only at their end; changes too large for the bus go out without their largest values;
 * a slot that was lost is never silently recreated.
 */
import assert from "node:assert/strict";
import { PositionLostError } from "../services/listener/source.ts";
import { MemoryPositionStore } from "./support/positions.ts";
import { testDatabase } from "./support/postgres.ts";
import { startStack } from "./support/stack.ts";
import { waitFor } from "./support/wait.ts";
import { runSource } from "./support/wal.ts";
import { TestClient } from "./support/ws_client.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const slotName = () => `s_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`;

Deno.test(
  "a large transaction streams in parts, in order, and is confirmed only with its last part",
  opts,
  async () => {
    const db = await testDatabase();
    const slot = slotName();
    const running = await runSource(db.url, slot, { partSize: 1000 });
    try {
      await db.sql(`INSERT INTO todos (bucket, title)
        SELECT 'a', 'row ' || g FROM generate_series(1, 12500) g`);
      const envelopes = await running.waitForEnvelopes(12_500);
      const parts = running.batches.filter((b) => b.envelopes.length > 0);
      assert.ok(parts.length >= 13, `${parts.length} parts for 12,500 changes of 1,000 at most`);
      assert.ok(parts.every((p) => p.envelopes.length <= 1000));
      // Only the last part of the transaction may be confirmed.
      assert.deepEqual(
        parts.map((p) => p.checkpoint !== null),
        parts.map((_, i) => i === parts.length - 1),
      );
      const order = envelopes.map((e) => e.transaction!.total_order);
      assert.deepEqual(order, Array.from({ length: 12_500 }, (_, i) => i + 1));
      assert.equal(new Set(envelopes.map((e) => e.source.txId)).size, 1);
      assert.equal(new Set(envelopes.map((e) => e.id)).size, 12_500);
    } finally {
      await running.stop();
      await db.drop();
    }
  },
);

Deno.test(
  "a restart in the middle of a transaction delivers it again whole, with the same ids",
  opts,
  async () => {
    const db = await testDatabase();
    const slot = slotName();
    // Nothing is confirmed: as if the bus had not taken the transaction before a crash.
    const first = await runSource(db.url, slot, { partSize: 100, confirm: false });
    await db.sql(`INSERT INTO todos (bucket, title)
      SELECT 'a', 'row ' || g FROM generate_series(1, 1000) g`);
    const seen = (await first.waitForEnvelopes(1000)).map((e) => e.id);
    await first.stop();
    const second = await runSource(db.url, slot, { partSize: 100 });
    try {
      const again = (await second.waitForEnvelopes(1000)).map((e) => e.id);
      assert.deepEqual(again, seen);
    } finally {
      await second.stop();
      await db.drop();
    }
  },
);

Deno.test(
  "a change too large for the bus arrives without its largest value, and what follows arrives too",
  opts,
  async () => {
    const stack = await startStack({ env: { ENVELOPE_MAX_BYTES: "16384" } });
    const client = await TestClient.connect(stack.wsUrl, await stack.token(["a"]));
    try {
      await client.subscribe("public.todos");
      const huge = "x".repeat(200_000);
      await stack.db.sql("INSERT INTO todos (bucket, title) VALUES ('a', $1), ('a', 'small')", [
        huge,
      ]);
      const [big, small] = await client.changes(2);
      assert.deepEqual(big!.change.oversize?.columns, ["title"]);
      assert.ok(big!.change.oversize.bytes > 200_000);
      assert.equal(big!.change.after.title, undefined, "left out, not faked");
      assert.equal(big!.change.after.bucket, "a", "the rest of the row is there");
      assert.equal(small!.change.after.title, "small");
      const metrics = await (await fetch(`${stack.listener.url}/metrics`)).text();
      assert.match(metrics, /synchub_listener_oversize_envelopes_total\{source="pg"\} 1/);
    } finally {
      await client.close();
      await stack.close();
    }
  },
);

Deno.test("a slot that disappeared is refused, never silently made anew", opts, async () => {
  const db = await testDatabase();
  const slot = slotName();
  const positions = new MemoryPositionStore();
  const first = await runSource(db.url, slot, { positions });
  await db.sql("INSERT INTO todos (bucket, title) VALUES ('a', 'x')");
  await first.waitForEnvelopes(1);
  await first.stop();
  await waitFor(async () => {
    const [s] = await db.sql("SELECT active FROM pg_replication_slots WHERE slot_name = $1", [
      slot,
    ]);
    return s?.active === false;
  }, "the slot to be released");
  await db.sql("SELECT pg_drop_replication_slot($1)", [slot]);
  try {
    await assert.rejects(
      () => runSource(db.url, slot, { positions }),
      (err: unknown) => {
        assert.ok(err instanceof PositionLostError, String(err));
        assert.match(err.message, /is gone/);
        assert.match(err.message, /DELETE FROM synchub.source_positions/);
        return true;
      },
    );
    const [exists] = await db.sql("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [
      slot,
    ]);
    assert.equal(exists, undefined, "no new slot was made");
    // The way back: forget the position; a new slot starts afresh.
    await positions.clear(`slot:${slot}`);
    const fresh = await runSource(db.url, slot, { positions });
    await fresh.stop();
  } finally {
    await db.drop();
  }
});

Deno.test(
  "slot health is measured; a slot invalidated by max_slot_wal_keep_size is refused",
  opts,
  async () => {
    const db = await testDatabase();
    const slot = slotName();
    const positions = new MemoryPositionStore();
    const running = await runSource(db.url, slot, { positions, healthIntervalMs: 100 });
    await waitFor(() => running.source.health().retainedBytes !== undefined, "slot health");
    assert.ok(running.source.health().lagBytes! >= 0);
    await running.stop();
    try {
      // The server may keep at most 1 MB of WAL for slots; this one, idle, falls behind.
      await db.sql("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'");
      await db.sql("SELECT pg_reload_conf()");
      await waitFor(async () => {
        await db.sql(`INSERT INTO todos (bucket, title)
          SELECT 'a', repeat('w', 500) FROM generate_series(1, 5000)`);
        await db.sql("SELECT pg_switch_wal()");
        await db.sql("CHECKPOINT");
        const [s] = await db.sql<{ wal_status: string }>(
          "SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1",
          [slot],
        );
        return s?.wal_status === "lost";
      }, "the slot to be invalidated");
      await assert.rejects(() => runSource(db.url, slot, { positions }), (err: unknown) => {
        assert.ok(err instanceof PositionLostError, String(err));
        assert.match(err.message, /invalidated/);
        return true;
      });
    } finally {
      await db.sql("ALTER SYSTEM RESET max_slot_wal_keep_size");
      await db.sql("SELECT pg_reload_conf()");
      await db.drop();
    }
  },
);

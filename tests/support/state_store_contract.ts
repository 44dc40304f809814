/**
 * The contract every sync state store passes (SQLite, PostgreSQL, MySQL), against a real server.
 * A new store is done when this suite is green for it.
 */
import assert from "node:assert/strict";
import { SyncError } from "../../lib/errors.ts";
import type { StateStore } from "../../services/sync/state_store/store.ts";

export interface StoreFixture {
  /** Its server is not here: the tests are registered as ignored. */
  readonly ignore?: boolean;
  name: string;
  /** A fresh, empty store; `reopen` opens the same one again (migrations run twice). */
  open(): Promise<{ store: StateStore; reopen(): Promise<StateStore>; teardown(): Promise<void> }>;
}

export function stateStoreContract(f: StoreFixture): void {
  const test = (
    name: string,
    fn: (s: StateStore, reopen: () => Promise<StateStore>) => Promise<void>,
  ) =>
    Deno.test({
      name: `state store ${f.name}: ${name}`,
      ignore: f.ignore ?? false,
      sanitizeResources: false,
      sanitizeOps: false,
      async fn() {
        const { store, reopen, teardown } = await f.open();
        try {
          await fn(store, reopen);
        } finally {
          await store.close().catch(() => {});
          await teardown();
        }
      },
    });

  test("starts empty; migrations are idempotent; state survives a reopen", async (s, reopen) => {
    assert.equal(await s.isEmpty(), true);
    assert.equal(await s.ping(), true);
    await s.setTableStatus("users", "local_to_cloud", "running");
    assert.equal(await s.isEmpty(), false);
    await s.close();
    const again = await reopen();
    try {
      const st = await again.tableState("users", "local_to_cloud");
      assert.equal(st?.status, "running");
      assert.equal(st?.rows_synced, 0);
      assert.equal(st?.position, null);
    } finally {
      await again.close();
    }
  });

  test("progress adds rows and keeps the last position; status and error per direction", async (s) => {
    await s.recordProgress("users", "local_to_cloud", {
      rows: 10,
      position: "mysql-bin.000001:100",
    });
    await s.recordProgress("users", "local_to_cloud", { rows: 5 });
    await s.recordProgress("users", "cloud_to_local", { rows: 1, position: "0/16B3748" });
    await s.setTableStatus("users", "cloud_to_local", "error", "table users is missing on local");
    const a = await s.tableState("users", "local_to_cloud");
    assert.equal(a?.rows_synced, 15);
    assert.equal(a?.position, "mysql-bin.000001:100");
    assert.ok(a?.last_sync_time && Date.parse(a.last_sync_time) > Date.now() - 60_000);
    const b = await s.tableState("users", "cloud_to_local");
    assert.equal(b?.status, "error");
    assert.equal(b?.error, "table users is missing on local");
    assert.equal(b?.position, "0/16B3748");
    await s.setTableStatus("users", "cloud_to_local", "ok");
    assert.equal((await s.tableState("users", "cloud_to_local"))?.error, null);
    assert.deepEqual((await s.tableStates()).map((t) => t.direction), [
      "cloud_to_local",
      "local_to_cloud",
    ]);
  });

  test("one open conflict per row, updated with the newest versions; resolve once", async (s) => {
    const base = {
      table: "users",
      primary_key: { id: 7 },
      key_hash: "k7",
      conflict_type: "update_update" as const,
    };
    const first = await s.recordConflict({
      ...base,
      local_data: { id: 7, n: 1 },
      cloud_data: { id: 7, n: 2 },
    });
    assert.equal(first.created, true);
    const second = await s.recordConflict({
      ...base,
      local_data: { id: 7, n: 1 },
      cloud_data: { id: 7, n: 3 },
    });
    assert.equal(second.created, false);
    assert.equal(second.record.id, first.record.id);
    assert.deepEqual(second.record.cloud_data, { id: 7, n: 3 });
    assert.deepEqual([...await s.openConflicts("users", ["k7", "k8"])], ["k7"]);
    const listed = await s.listConflicts({ status: "unresolved", table: "users" });
    assert.equal(listed.conflicts.length, 1);
    assert.equal(listed.conflicts[0]?.resolved, false);
    assert.deepEqual(listed.conflicts[0]?.primary_key, { id: 7 });

    const resolved = await s.resolveConflict(first.record.id, {
      strategy: "manual:local",
      data: { id: 7, n: 1 },
    });
    assert.equal(resolved.resolved, true);
    assert.equal(resolved.resolution_strategy, "manual:local");
    assert.deepEqual(resolved.resolved_data, { id: 7, n: 1 });
    assert.ok(resolved.resolved_at);
    await assert.rejects(
      s.resolveConflict(first.record.id, { strategy: "manual:cloud", data: null }),
      (e: unknown) => e instanceof SyncError && e.code === "conflict",
    );
    await assert.rejects(
      s.resolveConflict("no-such-id", { strategy: "manual:cloud", data: null }),
      (e: unknown) => e instanceof SyncError && e.code === "not_found",
    );
    assert.equal((await s.openConflicts("users", ["k7"])).size, 0);
    // After resolution the same row may conflict again: a new record.
    const third = await s.recordConflict({ ...base, local_data: null, cloud_data: { id: 7 } });
    assert.equal(third.created, true);
    assert.notEqual(third.record.id, first.record.id);
  });

  test("an auto-resolved conflict seen from both directions is recorded once", async (s) => {
    const c = {
      table: "orders",
      primary_key: { id: "a" },
      key_hash: "ka",
      local_data: { id: "a", v: 1 },
      cloud_data: { id: "a", v: 2 },
      conflict_type: "update_update" as const,
      resolved_by: { strategy: "last_write_wins", data: { id: "a", v: 2 }, versions: "h1-h2" },
    };
    const a = await s.recordConflict(c);
    const b = await s.recordConflict(c);
    assert.equal(a.created, true);
    assert.equal(b.created, false);
    assert.equal(b.record.id, a.record.id);
    assert.equal(a.record.resolved, true);
    assert.equal(a.record.resolution_strategy, "last_write_wins");
    const other = await s.recordConflict({
      ...c,
      resolved_by: { ...c.resolved_by, versions: "h1-h3" },
    });
    assert.equal(other.created, true);
    assert.equal((await s.listConflicts({ status: "resolved" })).conflicts.length, 2);
    assert.equal((await s.listConflicts({ status: "unresolved" })).conflicts.length, 0);
  });

  test("conflicts page in detection order", async (s) => {
    for (let i = 0; i < 5; i++) {
      await s.recordConflict({
        table: "t",
        primary_key: { id: i },
        key_hash: `k${i}`,
        local_data: { id: i },
        cloud_data: null,
        conflict_type: "apply_error",
        error: "duplicate entry",
      });
    }
    const p1 = await s.listConflicts({ limit: 2 });
    assert.deepEqual(p1.conflicts.map((c) => c.primary_key.id), [0, 1]);
    assert.equal(p1.conflicts[0]?.error, "duplicate entry");
    const p2 = await s.listConflicts({ limit: 2, after: p1.next! });
    assert.deepEqual(p2.conflicts.map((c) => c.primary_key.id), [2, 3]);
    const p3 = await s.listConflicts({ limit: 2, after: p2.next! });
    assert.deepEqual(p3.conflicts.map((c) => c.primary_key.id), [4]);
    assert.equal(p3.next, null);
  });

  test("runs: started, finished, listed newest first with before", async (s) => {
    const tables = [{ name: "users", rows_done: 0, rows_total: 10, percent: 0 }];
    const r1 = await s.startRun({ direction: "bidirectional", tables });
    assert.equal(r1.status, "running");
    assert.equal(r1.completed_at, null);
    const done = await s.finishRun(r1.id, {
      status: "completed",
      total_rows: 10,
      conflicts_detected: 1,
      tables: [{ name: "users", rows_done: 10, rows_total: 10, percent: 100 }],
      error: null,
    });
    assert.equal(done.status, "completed");
    assert.ok(done.completed_at);
    assert.equal(done.tables[0]?.percent, 100);
    const r2 = await s.startRun({ direction: "local_to_cloud", tables });
    const r3 = await s.startRun({ direction: "cloud_to_local", tables });
    assert.deepEqual((await s.listRuns({})).map((r) => r.id), [r3.id, r2.id, r1.id]);
    assert.deepEqual((await s.listRuns({ limit: 1, before: r3.id })).map((r) => r.id), [r2.id]);
    assert.equal((await s.run(r2.id))?.direction, "local_to_cloud");
    assert.equal(await s.run("nope"), null);
  });

  test("tombstones: added, found, cleared", async (s) => {
    await s.addTombstones("users", ["a", "b", "c"]);
    await s.addTombstones("users", ["a"]); // again: no error
    assert.deepEqual([...await s.tombstoned("users", ["a", "c", "z"])].sort(), ["a", "c"]);
    assert.equal((await s.tombstoned("other", ["a"])).size, 0);
    await s.clearTombstones("users", ["a"]);
    assert.deepEqual([...await s.tombstoned("users", ["a", "b", "c"])].sort(), ["b", "c"]);
  });

  test("capture positions: stored, replaced, survive a reopen, cleared", async (s, reopen) => {
    assert.equal(await s.capturePosition("sync-local"), null);
    await s.saveCapturePosition("sync-local", '{"file":"binlog.000001","pos":4}');
    await s.saveCapturePosition("sync-local", '{"file":"binlog.000001","pos":900}');
    await s.saveCapturePosition("slot:x", "0/16B3748");
    await s.close();
    const again = await reopen();
    try {
      assert.equal(await again.capturePosition("sync-local"), '{"file":"binlog.000001","pos":900}');
      await again.clearCapturePosition("sync-local");
      assert.equal(await again.capturePosition("sync-local"), null);
      assert.equal(await again.capturePosition("slot:x"), "0/16B3748");
    } finally {
      await again.close();
    }
  });

  test("concurrent writers do not trip over each other", async (s) => {
    await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) => s.recordProgress(`t${i % 4}`, "local_to_cloud", { rows: 1, position: String(i) }),
      ),
    );
    const states = await s.tableStates();
    assert.equal(states.reduce((n, t) => n + t.rows_synced, 0), 20);
  });
}

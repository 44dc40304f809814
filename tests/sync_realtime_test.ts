/**
 * The realtime applier (fed by envelopes in phase 2), against two PostgreSQL databases: changes
 * apply when the target is as the source's `before`, redeliveries are skipped, a row changed on
 * both sides goes to the strategy and is recorded once for both directions, `manual` parks only
 * that row (later changes to it park too), deletes leave tombstones, positions follow commits.
 */
import assert from "node:assert/strict";
import { runBatch } from "../services/sync/batch/run.ts";
import {
  applyChanges,
  mergeChanges,
  type SourceChange,
} from "../services/sync/realtime/apply_changes.ts";
import { keyHash } from "../services/sync/row_hash.ts";
import { harness, postgresSide } from "./support/sync.ts";

const t = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false });
const at = (s: string) => `2024-01-01T00:00:${s}Z`;
const row = (id: number, v: string, ts: string) => ({ id, v, updated_at: at(ts) });
const c = (after: Record<string, string | number>): SourceChange => ({
  op: "c",
  before: null,
  after,
  tsMs: 0,
});
const u = (
  before: Record<string, string | number>,
  after: Record<string, string | number>,
): SourceChange => ({
  op: "u",
  before,
  after,
  tsMs: 0,
});

async function setup(strategy: string) {
  const local = await postgresSide();
  const cloud = await postgresSide();
  const ddl =
    "CREATE TABLE r (id int PRIMARY KEY, v text NOT NULL, updated_at timestamptz NOT NULL)";
  await local.sql(ddl);
  await cloud.sql(ddl);
  const h = await harness({ local, cloud }, {
    mode: "bidirectional",
    tables: [{ name: "r", timestamp_column: "updated_at", conflict_resolution: strategy }],
  });
  const table = h.ctx.config.sync.tables[0]!;
  return {
    local,
    cloud,
    h,
    table,
    async close() {
      await h.close();
      await Promise.all([local.drop(), cloud.drop()]);
    },
  };
}

t("realtime: apply, skip a redelivery, store the position after the commit", async () => {
  const s = await setup("last_write_wins");
  try {
    const batch = [
      c(row(1, "a", "01")),
      c(row(2, "b", "01")),
      u(row(1, "a", "01"), row(1, "a2", "02")),
    ];
    const r1 = await applyChanges(s.h.ctx, s.table, "local", batch, { position: "pos-1" });
    assert.deepEqual(r1, { applied: 2, skipped: 0, conflicts: 0, parked: 0, rejected: 0 });
    assert.deepEqual(await s.cloud.sql("SELECT id, v FROM r ORDER BY id"), [{ id: 1, v: "a2" }, {
      id: 2,
      v: "b",
    }]);
    const state = await s.h.ctx.store.tableState("r", "local_to_cloud");
    assert.equal(state?.position, "pos-1");
    assert.equal(state?.rows_synced, 2);
    // The same batch again (redelivery after a crash): nothing written, position moves on.
    const r2 = await applyChanges(s.h.ctx, s.table, "local", batch, { position: "pos-1b" });
    assert.equal(r2.applied, 0);
    assert.equal(r2.skipped, 2);
    // A failure before the commit stores no position.
    await s.h.ctx.databases.cloud.close();
    await assert.rejects(
      applyChanges(s.h.ctx, s.table, "local", [c(row(3, "c", "03"))], { position: "pos-2" }),
    );
    assert.equal((await s.h.ctx.store.tableState("r", "local_to_cloud"))?.position, "pos-1b");
  } finally {
    await s.close().catch(() => {});
  }
});

t(
  "realtime LWW: changed on both sides → the later wins, one conflict record for both directions",
  async () => {
    const s = await setup("last_write_wins");
    try {
      await s.local.sql(`INSERT INTO r VALUES (1, 'base', '${at("00")}')`);
      await s.cloud.sql(`INSERT INTO r VALUES (1, 'base', '${at("00")}')`);
      // Both sides changed row 1 before either change arrived on the other side.
      await s.local.sql(`UPDATE r SET v = 'local', updated_at = '${at("05")}'`);
      await s.cloud.sql(`UPDATE r SET v = 'cloud', updated_at = '${at("09")}'`);
      const toCloud = await applyChanges(s.h.ctx, s.table, "local", [
        u(row(1, "base", "00"), row(1, "local", "05")),
      ]);
      assert.deepEqual([toCloud.conflicts, toCloud.applied], [1, 0]); // cloud's is later: kept
      const toLocal = await applyChanges(s.h.ctx, s.table, "cloud", [
        u(row(1, "base", "00"), row(1, "cloud", "09")),
      ]);
      assert.deepEqual([toLocal.conflicts, toLocal.applied], [0, 1]); // same pair: no second record
      assert.deepEqual(await s.local.sql("SELECT v FROM r"), [{ v: "cloud" }]);
      assert.deepEqual(await s.cloud.sql("SELECT v FROM r"), [{ v: "cloud" }]);
      const { conflicts } = await s.h.ctx.store.listConflicts({ status: "all" });
      assert.equal(conflicts.length, 1);
      assert.equal(conflicts[0]?.resolution_strategy, "last_write_wins");
      assert.equal(conflicts[0]?.conflict_type, "update_update");
      assert.equal(conflicts[0]?.resolved_data?.v, "cloud");
    } finally {
      await s.close();
    }
  },
);

t(
  "realtime manual: only the conflicting row parks, and stays parked; the rest goes on",
  async () => {
    const s = await setup("manual");
    try {
      await s.local.sql(`INSERT INTO r VALUES (1, 'base', '${at("00")}')`);
      await s.cloud.sql(`INSERT INTO r VALUES (1, 'theirs', '${at("01")}')`);
      const r = await applyChanges(s.h.ctx, s.table, "local", [
        u(row(1, "base", "00"), row(1, "mine", "02")),
        c(row(2, "other", "02")),
      ]);
      assert.deepEqual([r.applied, r.parked, r.conflicts], [1, 1, 1]);
      assert.deepEqual(await s.cloud.sql("SELECT id, v FROM r ORDER BY id"), [
        { id: 1, v: "theirs" },
        { id: 2, v: "other" },
      ]);
      // A later change to the parked row parks too, updating the one record.
      const later = await applyChanges(s.h.ctx, s.table, "local", [
        u(row(1, "mine", "02"), row(1, "mine2", "03")),
      ]);
      assert.deepEqual([later.applied, later.parked, later.conflicts], [0, 1, 0]);
      const { conflicts } = await s.h.ctx.store.listConflicts({ status: "unresolved" });
      assert.equal(conflicts.length, 1);
      assert.equal(conflicts[0]?.local_data?.v, "mine2");
      assert.equal(conflicts[0]?.cloud_data?.v, "theirs");
      assert.deepEqual(await s.cloud.sql("SELECT v FROM r WHERE id = 1"), [{ v: "theirs" }]);
    } finally {
      await s.close();
    }
  },
);

t(
  "realtime deletes: applied, remembered as tombstones, never brought back by a batch run",
  async () => {
    const s = await setup("last_write_wins");
    try {
      await s.local.sql(`INSERT INTO r VALUES (1, 'a', '${at("00")}'), (2, 'b', '${at("00")}')`);
      await s.cloud.sql(`INSERT INTO r VALUES (1, 'a', '${at("00")}'), (2, 'b', '${at("00")}')`);
      await s.local.sql("DELETE FROM r WHERE id = 1");
      const r = await applyChanges(s.h.ctx, s.table, "local", [
        { op: "d", before: row(1, "a", "00"), after: null, tsMs: 1 },
      ]);
      assert.equal(r.applied, 1);
      assert.deepEqual(await s.cloud.sql("SELECT id FROM r"), [{ id: 2 }]);
      assert.equal((await s.h.ctx.store.tombstoned("r", [keyHash("r", '["1"]')])).size, 1);
      // Deleted on cloud; the cloud listener saw it (tombstone) but local has not applied it yet:
      // the batch run must not copy local's row 2 back to cloud.
      await s.cloud.sql("DELETE FROM r WHERE id = 2");
      await s.h.ctx.store.addTombstones("r", [keyHash("r", '["2"]')]);
      const run = await runBatch(s.h.ctx);
      assert.equal(run.total_rows, 0);
      assert.deepEqual(await s.cloud.sql("SELECT id FROM r"), []);
      // A re-insert clears the tombstone.
      await applyChanges(s.h.ctx, s.table, "local", [c(row(1, "again", "09"))]);
      assert.equal((await s.h.ctx.store.tombstoned("r", [keyHash("r", '["1"]')])).size, 0);
    } finally {
      await s.close();
    }
  },
);

Deno.test("realtime: merged changes keep the first before and the last after", () => {
  const a = { id: 1, v: "a" };
  const b = { id: 1, v: "b" };
  assert.deepEqual(mergeChanges(c(a), u(a, b)), { op: "c", before: null, after: b, tsMs: 0 });
  assert.deepEqual(mergeChanges(u(a, b), { op: "d", before: b, after: null, tsMs: 5 }), {
    op: "d",
    before: a,
    after: null,
    tsMs: 5,
  });
  assert.equal(mergeChanges({ op: "d", before: a, after: null, tsMs: 1 }, c(b)).op, "u");
});

t(
  "resolve: the chosen version is written to both sides, then the conflict is resolved once",
  async () => {
    const s = await setup("manual");
    try {
      const { resolveConflict } = await import("../services/sync/resolve.ts");
      const { SyncError } = await import("../lib/errors.ts");
      await s.local.sql(`INSERT INTO r VALUES (1, 'base', '${at("00")}')`);
      await s.cloud.sql(`INSERT INTO r VALUES (1, 'theirs', '${at("01")}')`);
      await applyChanges(s.h.ctx, s.table, "local", [
        u(row(1, "base", "00"), row(1, "mine", "02")),
      ]);
      await s.local.sql(`UPDATE r SET v = 'mine', updated_at = '${at("02")}'`);
      const [open] = (await s.h.ctx.store.listConflicts({})).conflicts;
      await assert.rejects(
        resolveConflict(s.h.ctx, open!.id, "custom", { id: 2, v: "x", updated_at: at("03") }),
        (e: unknown) => e instanceof SyncError && e.code === "bad_request",
      );
      const done = await resolveConflict(s.h.ctx, open!.id, "custom", row(1, "agreed", "04"));
      assert.equal(done.resolved, true);
      assert.equal(done.resolution_strategy, "manual:custom");
      for (const side of [s.local, s.cloud]) {
        assert.deepEqual(await side.sql("SELECT v FROM r"), [{ v: "agreed" }]);
      }
      await assert.rejects(
        resolveConflict(s.h.ctx, open!.id, "local"),
        (e: unknown) => e instanceof SyncError && e.code === "conflict",
      );
      // No longer parked: the next change flows.
      const next = await applyChanges(s.h.ctx, s.table, "local", [
        u(row(1, "agreed", "04"), row(1, "after", "05")),
      ]);
      assert.equal(next.applied, 1);
    } finally {
      await s.close();
    }
  },
);

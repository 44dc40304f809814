/**
 * Batch runs PostgreSQL↔PostgreSQL (two databases of the test server) in bidirectional mode:
 * each side's own rows copied over, diverged rows settled by the table's strategy and recorded
 * once, `manual` parking only its row.
 */
import assert from "node:assert/strict";
import { runBatch } from "../services/sync/batch/run.ts";
import { digest, harness, postgresSide } from "./support/sync.ts";

const t = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false });

const DDL = `CREATE TABLE docs (
  id bigint PRIMARY KEY, title text NOT NULL, body jsonb, tags text[], score numeric(12,3),
  flag boolean NOT NULL DEFAULT false, blob bytea, uid uuid, updated_at timestamptz NOT NULL)`;

t(
  "sync PG↔PG bidirectional: rows only on one side copied; LWW and source_priority settle and record once",
  async () => {
    const local = await postgresSide();
    const cloud = await postgresSide();
    await local.sql(DDL);
    await cloud.sql(DDL);
    await local.sql(
      `INSERT INTO docs SELECT g, 'doc ' || g, jsonb_build_object('g', g), ARRAY['a', 'b'],
      g / 3.0, g % 2 = 0, '\\x0102'::bytea, gen_random_uuid(), '2024-01-01T00:00:00Z' FROM generate_series(1, 1200) g`,
    );
    await cloud.sql(`INSERT INTO docs (id, title, updated_at) VALUES (5000, 'cloud only', now())`);
    // Row 10 diverged: newer on cloud. Row 11: newer on local.
    await cloud.sql(
      `INSERT INTO docs (id, title, updated_at) VALUES (10, 'cloud newer', '2024-06-01Z'), (11, 'cloud older', '2023-01-01Z')`,
    );
    await local.sql(
      `UPDATE docs SET title = 'local newer', updated_at = '2024-02-01Z' WHERE id = 11`,
    );
    // source_priority: cloud wins whatever changed.
    await local.sql("CREATE TABLE prio (id int PRIMARY KEY, v int)");
    await cloud.sql("CREATE TABLE prio (id int PRIMARY KEY, v int)");
    await local.sql("INSERT INTO prio VALUES (1, 1), (2, 2)");
    await cloud.sql("INSERT INTO prio VALUES (1, 10)");
    const h = await harness({ local, cloud }, {
      mode: "bidirectional",
      batch_size: 500,
      tables: [
        { name: "docs", timestamp_column: "updated_at", conflict_resolution: "last_write_wins" },
        { name: "prio", conflict_resolution: "source_priority", priority: "cloud" },
      ],
    });
    try {
      const run = await runBatch(h.ctx);
      assert.equal(run.status, "completed", run.error ?? "");
      assert.equal(run.conflicts_detected, 3);
      assert.deepEqual(run.tables.map((t) => t.percent), [100, 100]);
      assert.deepEqual(await local.sql("SELECT * FROM prio ORDER BY id"), [{ id: 1, v: 10 }, {
        id: 2,
        v: 2,
      }]);
      assert.deepEqual(await cloud.sql("SELECT * FROM prio ORDER BY id"), [{ id: 1, v: 10 }, {
        id: 2,
        v: 2,
      }]);
      const prio = await h.ctx.store.listConflicts({ status: "resolved", table: "prio" });
      assert.deepEqual(prio.conflicts.map((c) => c.resolution_strategy), ["source_priority"]);
      assert.deepEqual(await digest(h.ctx, "cloud", "docs"), await digest(h.ctx, "local", "docs"));
      assert.deepEqual(
        await local.sql("SELECT title FROM docs WHERE id IN (10, 11, 5000) ORDER BY id"),
        [
          { title: "cloud newer" },
          { title: "local newer" },
          { title: "cloud only" },
        ],
      );
      const { conflicts } = await h.ctx.store.listConflicts({ status: "resolved", table: "docs" });
      assert.deepEqual(
        conflicts.map((c) => [c.primary_key.id, c.resolution_strategy, c.conflict_type]),
        [
          [10, "last_write_wins", "diverged"],
          [11, "last_write_wins", "diverged"],
        ],
      );
      assert.equal(conflicts[0]?.cloud_data?.title, "cloud newer");
      assert.equal(conflicts[0]?.local_data?.title, "doc 10");
      // In sync now: a second run finds nothing, records nothing.
      const again = await runBatch(h.ctx);
      assert.equal(again.total_rows, 0);
      assert.equal(again.conflicts_detected, 0);
      // Both directions' states exist.
      assert.equal((await h.ctx.store.tableState("docs", "cloud_to_local"))?.status, "ok");
    } finally {
      await h.close();
      await Promise.all([local.drop(), cloud.drop()]);
    }
  },
);

t(
  "sync PG↔PG: manual parks only the conflicting row, neither side overwritten, one record across runs",
  async () => {
    const local = await postgresSide();
    const cloud = await postgresSide();
    const ddl = "CREATE TABLE kv (k text PRIMARY KEY, v int NOT NULL)";
    await local.sql(ddl);
    await cloud.sql(ddl);
    await local.sql("INSERT INTO kv VALUES ('a', 1), ('b', 2), ('c', 3)");
    await cloud.sql("INSERT INTO kv VALUES ('b', 20), ('d', 4)");
    const h = await harness({ local, cloud }, {
      mode: "bidirectional",
      tables: [{ name: "kv", conflict_resolution: "manual" }],
    });
    try {
      const seen: string[] = [];
      const run = await runBatch(h.ctx, { onConflict: (c) => seen.push(String(c.primary_key.k)) });
      assert.equal(run.status, "completed");
      assert.deepEqual(seen, ["b"]);
      assert.deepEqual(await local.sql("SELECT * FROM kv ORDER BY k"), [
        { k: "a", v: 1 },
        { k: "b", v: 2 },
        { k: "c", v: 3 },
        { k: "d", v: 4 },
      ]);
      assert.deepEqual(await cloud.sql("SELECT * FROM kv ORDER BY k"), [
        { k: "a", v: 1 },
        { k: "b", v: 20 },
        { k: "c", v: 3 },
        { k: "d", v: 4 },
      ]);
      await cloud.sql("UPDATE kv SET v = 21 WHERE k = 'b'");
      const again = await runBatch(h.ctx);
      assert.equal(again.conflicts_detected, 0); // the same row is still parked: no second record
      const { conflicts } = await h.ctx.store.listConflicts({ status: "unresolved" });
      assert.equal(conflicts.length, 1);
      assert.equal(conflicts[0]?.resolved, false);
      assert.deepEqual([conflicts[0]?.local_data, conflicts[0]?.cloud_data], [{ k: "b", v: 2 }, {
        k: "b",
        v: 20,
      }]);
      assert.deepEqual(await cloud.sql("SELECT v FROM kv WHERE k = 'b'"), [{ v: 21 }]);
    } finally {
      await h.close();
      await Promise.all([local.drop(), cloud.drop()]);
    }
  },
);

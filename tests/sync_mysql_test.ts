/**
 * Batch runs between two MariaDB servers (both started by `deno task test`): copying, only
 * differing rows on a second run, a bad row isolated, a schema mismatch confined to its table,
 * 20+ tables at once, cancellation between batches, tombstones, the marker in every transaction.
 */
import assert from "node:assert/strict";
import { runBatch } from "../services/sync/batch/run.ts";
import {
  digest,
  harness,
  mysqlSide,
  mysqlUrls,
  type SideDb,
  withTwoMySql,
} from "./support/sync.ts";

const test = (name: string, fn: () => Promise<void>, ignore = false) =>
  Deno.test({ name, fn, ignore, sanitizeOps: false, sanitizeResources: false });

async function pair(): Promise<{ local: SideDb; cloud: SideDb; drop(): Promise<void> }> {
  const [a, b] = mysqlUrls()!;
  const local = await mysqlSide(a);
  const cloud = await mysqlSide(b);
  return { local, cloud, drop: async () => void await Promise.all([local.drop(), cloud.drop()]) };
}

const ITEMS = `CREATE TABLE items (
  id INT PRIMARY KEY, title VARCHAR(100) NOT NULL, price DECIMAL(10,2), done TINYINT(1) NOT NULL,
  doc JSON, raw VARBINARY(16), at DATETIME(6), updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))`;

async function seed(db: SideDb, from: number, to: number) {
  await db.sql(
    `INSERT INTO items (id, title, price, done, doc, raw, at)
      SELECT seq, CONCAT('item ', seq), seq * 1.25, seq % 2, JSON_OBJECT('n', seq, 'tags', JSON_ARRAY('a', 'b')),
             UNHEX(LPAD(HEX(seq), 8, '0')), '2024-05-06 07:08:09.123456'
        FROM seq_${from}_to_${to}`,
  );
}

withTwoMySql("sync MariaDB↔MariaDB", (ignore) => {
  const t = (name: string, fn: () => Promise<void>) => test(name, fn, ignore);
  t(
    "sync MariaDB→MariaDB: a first run copies every row; the second copies only what differs",
    async () => {
      const p = await pair();
      await p.local.sql(ITEMS);
      await p.cloud.sql(ITEMS);
      await seed(p.local, 1, 2500);
      const h = await harness(p, { tables: [{ name: "items", timestamp_column: "updated_at" }] });
      try {
        const first = await runBatch(h.ctx);
        assert.equal(first.status, "completed", first.error ?? "");
        assert.equal(first.total_rows, 2500);
        assert.deepEqual(first.tables, [{
          name: "items",
          rows_done: 2500,
          rows_total: 2500,
          percent: 100,
        }]);
        assert.deepEqual(
          await digest(h.ctx, "cloud", "items"),
          await digest(h.ctx, "local", "items"),
        );
        const state = await h.ctx.store.tableState("items", "local_to_cloud");
        assert.equal(state?.status, "ok");
        assert.equal(state?.rows_synced, 2500);

        await p.local.sql("UPDATE items SET title = 'changed' WHERE id IN (5, 1500, 2500)");
        await p.local.sql("INSERT INTO items (id, title, done) VALUES (9999, 'new', 0)");
        await p.cloud.sql("UPDATE items SET price = 0 WHERE id = 7"); // one-way: the source wins
        const second = await runBatch(h.ctx);
        assert.equal(second.status, "completed");
        assert.equal(second.total_rows, 5);
        assert.equal(second.conflicts_detected, 0);
        assert.deepEqual(
          await digest(h.ctx, "cloud", "items"),
          await digest(h.ctx, "local", "items"),
        );
        assert.equal((await h.ctx.store.listRuns({})).length, 2);
        // Every write carried the marker; the source was not written at all.
        const marks = await p.cloud.sql("SELECT SUM(txn) AS n FROM synchub_sync_marker");
        assert.ok(Number(marks[0]?.n) >= 4, `marker transactions: ${marks[0]?.n}`);
        assert.deepEqual(await p.local.sql("SELECT * FROM synchub_sync_marker"), []);
      } finally {
        await h.close();
        await p.drop();
      }
    },
  );

  t(
    "sync MariaDB: a row the target refuses becomes an apply_error; the rest of its batch commits",
    async () => {
      const p = await pair();
      const ddl =
        "CREATE TABLE people (id INT PRIMARY KEY, email VARCHAR(50) NOT NULL, UNIQUE KEY (email))";
      await p.local.sql(ddl);
      await p.cloud.sql(ddl);
      await p.local.sql("INSERT INTO people SELECT seq, CONCAT('p', seq, '@x') FROM seq_1_to_50");
      await p.local.sql("UPDATE people SET email = 'taken@x' WHERE id = 17");
      await p.cloud.sql("INSERT INTO people VALUES (1000, 'taken@x')");
      const h = await harness(p, { tables: [{ name: "people" }], batch_size: 50 });
      try {
        const run = await runBatch(h.ctx);
        assert.equal(run.status, "completed");
        assert.equal(run.total_rows, 49);
        assert.equal(run.conflicts_detected, 1);
        const rows = await p.cloud.sql("SELECT id FROM people ORDER BY id");
        assert.equal(rows.length, 50); // 49 copied + the cloud's own row
        assert.ok(!rows.some((r) => r.id === 17));
        const { conflicts } = await h.ctx.store.listConflicts({ status: "unresolved" });
        assert.equal(conflicts.length, 1);
        assert.equal(conflicts[0]?.conflict_type, "apply_error");
        assert.deepEqual(conflicts[0]?.primary_key, { id: 17 });
        assert.deepEqual(conflicts[0]?.local_data, { id: 17, email: "taken@x" });
        assert.match(conflicts[0]?.error ?? "", /Duplicate entry/);
        // The row id 1000 was not touched by the refused insert.
        assert.deepEqual(await p.cloud.sql("SELECT email FROM people WHERE id = 1000"), [{
          email: "taken@x",
        }]);
      } finally {
        await h.close();
        await p.drop();
      }
    },
  );

  t(
    "sync MariaDB: a table missing on the target, or missing a column, is marked error; the others go on",
    async () => {
      const p = await pair();
      await p.local.sql("CREATE TABLE good (id INT PRIMARY KEY, v INT)");
      await p.cloud.sql("CREATE TABLE good (id INT PRIMARY KEY, v INT)");
      await p.local.sql("CREATE TABLE gone (id INT PRIMARY KEY)");
      await p.local.sql("CREATE TABLE narrow (id INT PRIMARY KEY, a INT, b INT)");
      await p.cloud.sql("CREATE TABLE narrow (id INT PRIMARY KEY, a INT)");
      await p.local.sql("INSERT INTO good VALUES (1, 1), (2, 2)");
      const h = await harness(p, {
        tables: [{ name: "gone" }, { name: "narrow" }, { name: "good" }],
      });
      try {
        const run = await runBatch(h.ctx);
        assert.equal(run.status, "failed");
        assert.match(run.error ?? "", /2 of 3 table\(s\) failed/);
        assert.equal(run.total_rows, 2);
        const gone = await h.ctx.store.tableState("gone", "local_to_cloud");
        assert.equal(gone?.status, "error");
        assert.match(gone?.error ?? "", /table gone does not exist on cloud/);
        const narrow = await h.ctx.store.tableState("narrow", "local_to_cloud");
        assert.equal(narrow?.status, "error");
        assert.match(narrow?.error ?? "", /column b of narrow missing on cloud/);
        assert.equal((await h.ctx.store.tableState("good", "local_to_cloud"))?.status, "ok");
        assert.equal((await p.cloud.sql("SELECT COUNT(*) AS n FROM good"))[0]?.n, 2);
      } finally {
        await h.close();
        await p.drop();
      }
    },
  );

  t("sync MariaDB: 22 tables at once, 4 workers", async () => {
    const p = await pair();
    const names = Array.from({ length: 22 }, (_, i) => `t${i}`);
    for (const n of names) {
      await p.local.sql(`CREATE TABLE ${n} (id INT PRIMARY KEY, v VARCHAR(20))`);
      await p.cloud.sql(`CREATE TABLE ${n} (id INT PRIMARY KEY, v VARCHAR(20))`);
      await p.local.sql(`INSERT INTO ${n} SELECT seq, CONCAT('${n}-', seq) FROM seq_1_to_120`);
    }
    const h = await harness(p, {
      tables: names.map((name) => ({ name })),
      workers: 4,
      batch_size: 50,
    });
    try {
      const progress = new Set<string>();
      const run = await runBatch(h.ctx, { onProgress: (e) => progress.add(e.name) });
      assert.equal(run.status, "completed", run.error ?? "");
      assert.equal(run.total_rows, 22 * 120);
      assert.equal(progress.size, 22);
      for (const n of names) {
        assert.deepEqual(await digest(h.ctx, "cloud", n), await digest(h.ctx, "local", n), n);
      }
    } finally {
      await h.close();
      await p.drop();
    }
  });

  t(
    "sync MariaDB: cancelling stops between batches with nothing half-applied; the next run finishes",
    async () => {
      const p = await pair();
      await p.local.sql(ITEMS);
      await p.cloud.sql(ITEMS);
      await seed(p.local, 1, 3000);
      const h = await harness(p, {
        tables: [{ name: "items", timestamp_column: "updated_at" }],
        batch_size: 100,
      });
      try {
        const stop = new AbortController();
        const run = await runBatch(h.ctx, {
          signal: stop.signal,
          onProgress: (e) => e.rows_done >= 300 && stop.abort(),
        });
        assert.equal(run.status, "cancelled");
        const n = Number((await p.cloud.sql("SELECT COUNT(*) AS n FROM items"))[0]?.n);
        assert.ok(n >= 300 && n < 3000, `copied ${n}`);
        assert.equal(n % 100, 0, "only whole batches are committed");
        assert.equal(run.total_rows, n);
        const again = await runBatch(h.ctx);
        assert.equal(again.status, "completed");
        assert.equal(again.total_rows, 3000 - n);
        assert.deepEqual(
          await digest(h.ctx, "cloud", "items"),
          await digest(h.ctx, "local", "items"),
        );
      } finally {
        await h.close();
        await p.drop();
      }
    },
  );

  t(
    "sync MariaDB: a row deleted in realtime (tombstone) is not brought back by a batch run",
    async () => {
      const p = await pair();
      await p.local.sql("CREATE TABLE notes (id INT PRIMARY KEY, v INT)");
      await p.cloud.sql("CREATE TABLE notes (id INT PRIMARY KEY, v INT)");
      await p.local.sql("INSERT INTO notes VALUES (1, 1), (2, 2), (3, 3)");
      await p.cloud.sql("INSERT INTO notes VALUES (4, 4)");
      const h = await harness(p, { tables: [{ name: "notes" }], mode: "bidirectional" });
      try {
        const { keyHash } = await import("../services/sync/row_hash.ts");
        // Row 2 was deleted on cloud and row 4 on local; the deletes have not reached the other side.
        await h.ctx.store.addTombstones("notes", [
          keyHash("notes", '["2"]'),
          keyHash("notes", '["4"]'),
        ]);
        const run = await runBatch(h.ctx);
        assert.equal(run.status, "completed", run.error ?? "");
        assert.deepEqual((await p.cloud.sql("SELECT id FROM notes ORDER BY id")).map((r) => r.id), [
          1,
          3,
          4,
        ]);
        assert.deepEqual((await p.local.sql("SELECT id FROM notes ORDER BY id")).map((r) => r.id), [
          1,
          2,
          3,
        ]);
      } finally {
        await h.close();
        await p.drop();
      }
    },
  );
});

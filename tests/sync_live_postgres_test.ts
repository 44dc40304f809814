/**
 * Realtime sync end to end on PostgreSQL ↔ PostgreSQL (SPEC §8.2): the service captures both
 * databases through the listener's WalSource and applies each side's changes to the other —
 * inserts, updates, deletes; no echo; each conflict strategy; a target that drops mid-stream.
 */
import assert from "node:assert/strict";
import {
  assertNoPingPong,
  echoes,
  liveSync,
  syncTransactions,
  waitEqual,
} from "./support/sync_live.ts";
import { postgresSide, type SideDb } from "./support/sync.ts";
import { waitFor } from "./support/wait.ts";

const t = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false });

const DDL = `CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL, n int NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now());
  ALTER TABLE items REPLICA IDENTITY FULL`;

async function sides(ddl = DDL): Promise<Record<"local" | "cloud", SideDb>> {
  const [local, cloud] = await Promise.all([postgresSide(), postgresSide()]);
  for (const s of [local, cloud]) for (const stmt of ddl.split(";")) await s.sql(stmt);
  return { local, cloud };
}

const dropAll = (s: Record<"local" | "cloud", SideDb>) =>
  Promise.all([s.local.drop(), s.cloud.drop()]);

t("realtime PostgreSQL: inserts, updates and deletes flow both ways, no echo", async () => {
  const s = await sides();
  const live = await liveSync(s, {
    tables: [{ name: "items", timestamp_column: "updated_at" }],
  });
  try {
    await s.local.sql("INSERT INTO items (id, v) VALUES (1, 'a'), (2, 'b'), (3, 'c')");
    await waitEqual(s, ["items"]);
    await s.cloud.sql("UPDATE items SET v = 'b2', n = n + 1, updated_at = now() WHERE id = 2");
    await s.local.sql("DELETE FROM items WHERE id = 3");
    await waitEqual(s, ["items"]);
    assert.deepEqual(
      await s.local.sql("SELECT id, v, n FROM items ORDER BY id"),
      [{ id: 1, v: "a", n: 0 }, { id: 2, v: "b2", n: 1 }],
    );
    // Settled: every change crossed once, and none came back. The echo of each applied
    // transaction reached the other applier and was dropped there.
    await waitFor(
      async () => (await echoes(live)) >= 3,
      "the echoes of the three applied transactions to be seen and dropped",
    );
    const toCloud = await syncTransactions(s.cloud, "local_to_cloud");
    assert.ok(toCloud >= 2 && toCloud <= 4, `${toCloud}: the insert (per key) and the delete`);
    assert.equal(await syncTransactions(s.local, "cloud_to_local"), 1, "the update, once");
    // Still so after a further change each way (captured after any echo would have been).
    const seen = await echoes(live);
    await s.local.sql("INSERT INTO items (id, v) VALUES (9, 'z')");
    await s.cloud.sql("INSERT INTO items (id, v) VALUES (10, 'y')");
    await waitEqual(s, ["items"]);
    await waitFor(async () => (await echoes(live)) >= seen + 2, "the last two echoes");
    assert.equal(await syncTransactions(s.local, "cloud_to_local"), 2);
    assert.equal(await syncTransactions(s.cloud, "local_to_cloud"), toCloud + 1);
    const state = live.service.realtime.state();
    assert.equal(state.running, true);
    assert.equal(state.failed, undefined);
    const l2c = state.tables.find((x) => x.direction === "local_to_cloud")!;
    assert.equal(l2c.state, "streaming");
    assert.equal(l2c.status, "ok");
    assert.equal(l2c.rows_synced, 5); // 3 inserts, 1 delete, 1 insert
    assert.ok(l2c.lag_ms !== null && l2c.lag_ms >= 0);
    assert.ok(l2c.position);
    const metrics = await fetch(`${live.service.url}/metrics`).then((r) => r.text());
    assert.match(
      metrics,
      /synchub_sync_realtime_lag_seconds_count\{table="items",direction="local_to_cloud"\} 5/,
    );
  } finally {
    await live.stop();
    await dropAll(s);
  }
});

t("realtime PostgreSQL: rapid updates on one side never ping-pong", async () => {
  const s = await sides();
  const live = await liveSync(s, { tables: [{ name: "items", timestamp_column: "updated_at" }] });
  try {
    await assertNoPingPong(s, live, "now()");
  } finally {
    await live.stop();
    await dropAll(s);
  }
});

t(
  "realtime PostgreSQL: a schema mismatch fails only its table; a refused row is an apply_error",
  async () => {
    const [local, cloud] = await Promise.all([postgresSide(), postgresSide()]);
    const s = { local, cloud };
    for (const side of [local, cloud]) {
      await side.sql("CREATE TABLE good (id int PRIMARY KEY, v text NOT NULL)");
      await side.sql("ALTER TABLE good REPLICA IDENTITY FULL");
    }
    await local.sql("CREATE TABLE narrow (id int PRIMARY KEY, a int, b int)");
    await cloud.sql("CREATE TABLE narrow (id int PRIMARY KEY, a int)");
    // Cloud refuses duplicate values of v; local does not care.
    await cloud.sql("CREATE UNIQUE INDEX good_v ON good (v)");
    const live = await liveSync(s, {
      mode: "local_to_cloud",
      tables: [{ name: "narrow" }, { name: "good" }],
    });
    try {
      await local.sql("INSERT INTO narrow VALUES (1, 1, 1)");
      await local.sql("INSERT INTO good VALUES (1, 'x'), (3, 'y')");
      await waitFor(
        async () => (await cloud.sql("SELECT id FROM good ORDER BY id")).length === 2,
        "the rows cloud takes",
      );
      // Keys go to workers by hash: the refused row comes after the one it clashes with.
      await local.sql("INSERT INTO good VALUES (2, 'x'), (4, 'z')");
      await waitFor(
        async () => (await cloud.sql("SELECT id FROM good ORDER BY id")).length === 3,
        "the row beside the refused one",
      );
      assert.deepEqual(await cloud.sql("SELECT id, v FROM good ORDER BY id"), [
        { id: 1, v: "x" },
        { id: 3, v: "y" },
        { id: 4, v: "z" },
      ]);
      assert.deepEqual(await cloud.sql("SELECT * FROM narrow"), []);
      await waitFor(
        () =>
          live.service.realtime.state().tables.find((x) => x.name === "narrow")?.state === "error",
        "narrow marked error",
      );
      const state = live.service.realtime.state().tables;
      assert.match(
        state.find((x) => x.name === "narrow")!.error ?? "",
        /b .*missing on cloud|column/,
      );
      assert.equal(state.find((x) => x.name === "good")!.state, "streaming");
      const store = await live.store();
      try {
        assert.equal((await store.tableState("narrow", "local_to_cloud"))?.status, "error");
        const { conflicts } = await store.listConflicts({ status: "unresolved" });
        assert.equal(conflicts.length, 1);
        assert.equal(conflicts[0]?.conflict_type, "apply_error");
        assert.deepEqual(conflicts[0]?.primary_key, { id: 2 });
        assert.match(conflicts[0]?.error ?? "", /duplicate key|unique/i);
      } finally {
        await store.close();
      }
    } finally {
      await live.stop();
      await dropAll(s);
    }
  },
);

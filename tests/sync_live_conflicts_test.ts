/**
 * Conflicts in realtime, end to end (SPEC §8.2): a row changed on both sides while the service
 * was down reaches it from both captures when it comes back (from their stored positions).
 * last_write_wins keeps the later write, source_priority the configured side, manual parks only
 * that row (neither side overwritten, the rest flows); each conflict is recorded once. On
 * PostgreSQL, and on MariaDB when the test task started two servers.
 */
import assert from "node:assert/strict";
import type { SideDb } from "./support/sync.ts";
import { mysqlSide, mysqlUrls, postgresSide, withTwoMySql } from "./support/sync.ts";
import {
  liveSync,
  storedConflicts,
  syncConfigFor,
  tableRows,
  waitEqual,
} from "./support/sync_live.ts";
import { waitFor } from "./support/wait.ts";
import { MYSQL_MARKER_DDL } from "../services/sync/engine/mysql.ts";

type Sides = Record<"local" | "cloud", SideDb>;

const engines: { name: string; ignore: boolean; make: () => Promise<Sides>; now: string }[] = [
  {
    name: "PostgreSQL",
    ignore: false,
    now: "clock_timestamp()",
    async make() {
      const [local, cloud] = await Promise.all([postgresSide(), postgresSide()]);
      for (const s of [local, cloud]) {
        await s.sql(`CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL,
          updated_at timestamptz NOT NULL DEFAULT now())`);
        await s.sql("ALTER TABLE items REPLICA IDENTITY FULL");
      }
      return { local, cloud };
    },
  },
];
withTwoMySql("realtime conflicts on MariaDB", (ignore) => {
  engines.push({
    name: "MariaDB",
    ignore,
    now: "NOW(6)",
    async make() {
      const [a, b] = mysqlUrls()!;
      const [local, cloud] = await Promise.all([mysqlSide(a), mysqlSide(b)]);
      for (const s of [local, cloud]) {
        await s.sql(`CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(40) NOT NULL,
          updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))`);
        await s.sql(MYSQL_MARKER_DDL);
      }
      return { local, cloud };
    },
  });
});

/**
 * Starts the service over equal rows 1..3, stops it, lets `offline` change both sides, starts
 * it again (same state store, same instance) and hands over to `check`.
 */
async function whileDown(
  make: () => Promise<Sides>,
  table: Record<string, unknown>,
  offline: (s: Sides) => Promise<void>,
  check: (s: Sides, live: Awaited<ReturnType<typeof liveSync>>) => Promise<void>,
) {
  const s = await make();
  const dir = await Deno.makeTempDir({ prefix: "sync-conflicts-" });
  const raw = syncConfigFor(s, dir, { tables: [{ name: "items", ...table }] });
  let live = await liveSync(s, {}, { dir, config: raw });
  try {
    await s.local.sql("INSERT INTO items (id, v) VALUES (1, 'one'), (2, 'two'), (3, 'three')");
    await waitEqual(s, ["items"]);
    await live.stop();
    await offline(s);
    live = await liveSync(s, {}, { dir, config: raw });
    await check(s, live);
  } finally {
    await live.stop();
    await Promise.all([s.local.drop(), s.cloud.drop()]);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

for (const engine of engines) {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({
      name: `realtime conflicts ${engine.name}: ${name}`,
      fn,
      ignore: engine.ignore,
      sanitizeOps: false,
      sanitizeResources: false,
    });

  t("last_write_wins keeps the later write on both sides, recorded once", async () => {
    await whileDown(
      engine.make,
      { timestamp_column: "updated_at", conflict_resolution: "last_write_wins" },
      async (s) => {
        await s.cloud.sql(`UPDATE items SET v = 'cloud', updated_at = ${engine.now} WHERE id = 2`);
        await s.local.sql(`UPDATE items SET v = 'local', updated_at = ${engine.now} WHERE id = 2`);
      },
      async (s, live) => {
        await waitFor(async () => (await storedConflicts(live)).length > 0, "the conflict");
        await waitEqual(s, ["items"]);
        assert.deepEqual(await s.cloud.sql("SELECT v FROM items WHERE id = 2"), [{ v: "local" }]);
        const [c, ...more] = await storedConflicts(live);
        assert.equal(more.length, 0, "one record for both directions");
        assert.equal(c?.conflict_type, "update_update");
        assert.equal(c?.resolved, true);
        assert.equal(c?.resolution_strategy, "last_write_wins");
        assert.equal(c?.resolved_data?.v, "local");
      },
    );
  });

  t("source_priority keeps the configured side's version", async () => {
    await whileDown(
      engine.make,
      { conflict_resolution: "source_priority", priority: "cloud" },
      async (s) => {
        await s.local.sql("UPDATE items SET v = 'local' WHERE id = 1");
        await s.cloud.sql("UPDATE items SET v = 'cloud' WHERE id = 1");
      },
      async (s, live) => {
        await waitFor(async () => (await storedConflicts(live)).length > 0, "the conflict");
        await waitEqual(s, ["items"]);
        assert.deepEqual(await s.local.sql("SELECT v FROM items WHERE id = 1"), [{ v: "cloud" }]);
        const all = await storedConflicts(live);
        assert.equal(all.length, 1);
        assert.equal(all[0]?.resolution_strategy, "source_priority");
      },
    );
  });

  t("manual parks only that row: neither side overwritten, the rest flows", async () => {
    await whileDown(
      engine.make,
      { conflict_resolution: "manual" },
      async (s) => {
        await s.local.sql("UPDATE items SET v = 'local' WHERE id = 3");
        await s.cloud.sql("UPDATE items SET v = 'cloud' WHERE id = 3");
        await s.local.sql("UPDATE items SET v = 'one!' WHERE id = 1");
      },
      async (s, live) => {
        await waitFor(async () => (await storedConflicts(live)).length > 0, "the conflict");
        await waitFor(
          async () => (await s.cloud.sql("SELECT v FROM items WHERE id = 1"))[0]?.v === "one!",
          "the other row to flow",
        );
        // A later change to the parked row parks too; other rows keep flowing.
        await s.local.sql("UPDATE items SET v = 'local again' WHERE id = 3");
        await s.local.sql("INSERT INTO items (id, v) VALUES (4, 'four')");
        await waitFor(
          async () => (await s.cloud.sql("SELECT v FROM items WHERE id = 4")).length === 1,
          "row 4",
        );
        await waitFor(
          async () => (await storedConflicts(live))[0]?.local_data?.v === "local again",
          "the parked record to hold local's newest version",
        );
        assert.deepEqual(await s.local.sql("SELECT v FROM items WHERE id = 3"), [{
          v: "local again",
        }]);
        assert.deepEqual(await s.cloud.sql("SELECT v FROM items WHERE id = 3"), [{ v: "cloud" }]);
        const all = await storedConflicts(live);
        assert.equal(all.length, 1);
        assert.equal(all[0]?.resolved, false);
        assert.equal(all[0]?.cloud_data?.v, "cloud");
        assert.equal(
          live.service.realtime.state().tables.every((x) => x.state === "streaming"),
          true,
        );
      },
    );
  });

  t("a row deleted on one side and changed on the other is an update_delete", async () => {
    await whileDown(
      engine.make,
      { conflict_resolution: "manual" },
      async (s) => {
        await s.local.sql("DELETE FROM items WHERE id = 2");
        await s.cloud.sql("UPDATE items SET v = 'kept' WHERE id = 2");
      },
      async (s, live) => {
        await waitFor(async () => (await storedConflicts(live)).length > 0, "the conflict");
        const [c] = await storedConflicts(live);
        assert.equal(c?.conflict_type, "update_delete");
        assert.deepEqual(c?.primary_key, { id: 2 });
        assert.equal(c?.local_data, null);
        assert.equal(c?.cloud_data?.v, "kept");
        // Never resurrected on local, or (the captures raced) set back to local's delete.
        await waitFor(
          async () => !(await tableRows(s.local, "items")).includes('"kept"'),
          "local to keep its delete",
        );
        assert.deepEqual(await s.local.sql("SELECT v FROM items WHERE id = 2"), []);
        assert.deepEqual(await s.cloud.sql("SELECT v FROM items WHERE id = 2"), [{ v: "kept" }]);
      },
    );
  });
}

/**
 * Realtime sync end to end on MariaDB ↔ MariaDB (two servers started by the test task): the
 * service captures both through the listener's BinlogSource — as a user with only REPLICATION
 * SLAVE, REPLICATION CLIENT and SELECT/INSERT/UPDATE/DELETE (SPEC §8.1) — and applies each side's
 * changes to the other: inserts, updates, deletes, no echo, no ping-pong.
 */
import assert from "node:assert/strict";
import { MYSQL_MARKER_DDL } from "../services/sync/engine/mysql.ts";
import { silentLogger } from "../lib/log.ts";
import { validateSyncConfig } from "../services/sync/config.ts";
import { startSync } from "../services/sync/service.ts";
import {
  assertNoPingPong,
  echoes,
  liveSync,
  syncConfigFor,
  syncTransactions,
  waitEqual,
} from "./support/sync_live.ts";
import { mysqlSide, mysqlUrls, type SideDb, withTwoMySql } from "./support/sync.ts";
import { waitFor } from "./support/wait.ts";

const DDL = `CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(50) NOT NULL,
  n INT NOT NULL DEFAULT 0, updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))`;

/** Two databases on the two servers, with the marker made by an administrator. */
export async function mysqlSides(ddl = DDL): Promise<Record<"local" | "cloud", SideDb>> {
  const [a, b] = mysqlUrls()!;
  const [local, cloud] = await Promise.all([mysqlSide(a), mysqlSide(b)]);
  for (const s of [local, cloud]) {
    await s.sql(ddl);
    await s.sql(MYSQL_MARKER_DDL);
  }
  return { local, cloud };
}

/** The side as seen by a user with only the privileges SPEC §8.1 names. */
export async function limited(side: SideDb): Promise<SideDb> {
  const url = new URL(side.url);
  const db = url.pathname.slice(1);
  const user = `s${crypto.randomUUID().replace(/-/g, "").slice(0, 10)}`;
  await side.sql(`CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY 'pw'`);
  await side.sql(`GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '${user}'@'127.0.0.1'`);
  await side.sql(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${db}.* TO '${user}'@'127.0.0.1'`);
  url.username = user;
  url.password = "pw";
  return { ...side, url: url.toString() };
}

withTwoMySql("realtime sync on MariaDB", (ignore) => {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name, fn, ignore, sanitizeOps: false, sanitizeResources: false });

  t("realtime MariaDB: inserts, updates and deletes flow both ways; no echo", async () => {
    const s = await mysqlSides();
    const live = await liveSync({ local: await limited(s.local), cloud: await limited(s.cloud) }, {
      tables: [{ name: "items", timestamp_column: "updated_at" }],
    });
    try {
      await s.local.sql("INSERT INTO items (id, v) VALUES (1, 'a'), (2, 'b'), (3, 'c')");
      await waitEqual(s, ["items"]);
      await s.cloud.sql("UPDATE items SET v = 'b2', n = n + 1 WHERE id = 2");
      await s.local.sql("DELETE FROM items WHERE id = 3");
      await waitEqual(s, ["items"]);
      assert.deepEqual(await s.cloud.sql("SELECT id, v, n FROM items ORDER BY id"), [
        { id: 1, v: "a", n: 0 },
        { id: 2, v: "b2", n: 1 },
      ]);
      const toCloud = await syncTransactions(s.cloud, "local_to_cloud");
      assert.ok(toCloud >= 2 && toCloud <= 4, `${toCloud}: the insert (per key) and the delete`);
      assert.equal(await syncTransactions(s.local, "cloud_to_local"), 1, "the update, once");
      // A further change each way travels behind any echo: the counts do not move otherwise.
      await waitFor(async () => (await echoes(live)) >= 2, "echoes");
      await s.local.sql("INSERT INTO items (id, v) VALUES (9, 'z')");
      await s.cloud.sql("INSERT INTO items (id, v) VALUES (10, 'y')");
      await waitEqual(s, ["items"]);
      assert.equal(await syncTransactions(s.local, "cloud_to_local"), 2);
      assert.equal(await syncTransactions(s.cloud, "local_to_cloud"), toCloud + 1);
      const state = live.service.realtime.state();
      assert.equal(state.running, true);
      const c2l = state.tables.find((x) => x.direction === "cloud_to_local")!;
      assert.equal(c2l.state, "streaming");
      assert.equal(c2l.status, "ok");
      assert.equal(c2l.rows_synced, 2);
      assert.ok(c2l.position?.startsWith("binlog."), c2l.position ?? "no position");
    } finally {
      await live.stop();
      await Promise.all([s.local.drop(), s.cloud.drop()]);
    }
  });

  t("realtime MariaDB: rapid updates on one side never ping-pong", async () => {
    const s = await mysqlSides();
    const live = await liveSync(s, {
      tables: [{ name: "items", timestamp_column: "updated_at" }],
    });
    try {
      await assertNoPingPong(s, live, "NOW(6)");
    } finally {
      await live.stop();
      await Promise.all([s.local.drop(), s.cloud.drop()]);
    }
  });
});

withTwoMySql("realtime capture that cannot run", (ignore) => {
  Deno.test({
    name: "realtime MariaDB: capture that cannot run (no REPLICATION grants) is failed, with why",
    ignore,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const s = await mysqlSides();
      // DML only: the binlog may not be read.
      const url = new URL(s.local.url);
      const user = `n${crypto.randomUUID().replace(/-/g, "").slice(0, 10)}`;
      await s.local.sql(`CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY 'pw'`);
      await s.local.sql(
        `GRANT SELECT, INSERT, UPDATE, DELETE ON ${
          url.pathname.slice(1)
        }.* TO '${user}'@'127.0.0.1'`,
      );
      url.username = user;
      url.password = "pw";
      const dir = await Deno.makeTempDir({ prefix: "sync-failed-" });
      const config = validateSyncConfig(
        syncConfigFor({ local: { ...s.local, url: url.toString() }, cloud: s.cloud }, dir, {
          mode: "local_to_cloud",
          tables: [{ name: "items" }],
        }),
        {},
      );
      const stop = new AbortController();
      const service = await startSync(
        { config, log: silentLogger, host: "127.0.0.1" },
        stop.signal,
      );
      const seen: (string | undefined)[] = [];
      const off = service.realtime.onChange?.((state) => seen.push(state.failed));
      try {
        await service.firstRun; // the batch run still runs: realtime's failure is not fatal
        await waitFor(() => service.realtime.state().failed, "the failed state");
        const state = service.realtime.state();
        assert.equal(state.running, false);
        assert.match(state.failed ?? "", /local capture: .*REPLICATION/);
        assert.equal(state.tables[0]?.state, "error");
        assert.equal(state.tables[0]?.status, "error");
        await waitFor(() => seen.some((f) => f !== undefined), "a change notification");
        const metrics = await fetch(`${service.url}/metrics`).then((r) => r.text());
        assert.match(metrics, /synchub_sync_realtime_capture_up\{side="local"\} 0/);
      } finally {
        off?.();
        stop.abort();
        await service.stop();
        await Promise.all([s.local.drop(), s.cloud.drop()]);
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  });
});

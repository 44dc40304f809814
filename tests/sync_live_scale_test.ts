/**
 * Realtime sync under load and faults, end to end: 24 tables syncing at once in both directions,
 * and a target that becomes unreachable mid-stream — changes wait (retried with back-off, shown
 * in the status, their positions not confirmed, nothing lost even across a restart meanwhile)
 * and arrive once it is back. On PostgreSQL and on MariaDB.
 */
import assert from "node:assert/strict";
import { MYSQL_MARKER_DDL } from "../services/sync/engine/mysql.ts";
import { openSqliteStore } from "../services/sync/state_store/sqlite.ts";
import type { SideDb } from "./support/sync.ts";
import { mysqlSide, mysqlUrls, postgresSide, withTwoMySql } from "./support/sync.ts";
import { liveSync, syncConfigFor, waitEqual } from "./support/sync_live.ts";
import { TcpProxy } from "./support/tcp_proxy.ts";
import { waitFor } from "./support/wait.ts";

type Sides = Record<"local" | "cloud", SideDb>;
interface Engine {
  name: string;
  ignore: boolean;
  make: (tables: string[]) => Promise<Sides>;
}

const engines: Engine[] = [{
  name: "PostgreSQL",
  ignore: false,
  async make(tables) {
    const [local, cloud] = await Promise.all([postgresSide(), postgresSide()]);
    for (const s of [local, cloud]) {
      for (const t of tables) {
        await s.sql(`CREATE TABLE ${t} (id int PRIMARY KEY, v text NOT NULL)`);
        await s.sql(`ALTER TABLE ${t} REPLICA IDENTITY FULL`);
      }
    }
    return { local, cloud };
  },
}];
withTwoMySql("realtime load and faults on MariaDB", (ignore) => {
  engines.push({
    name: "MariaDB",
    ignore,
    async make(tables) {
      const [a, b] = mysqlUrls()!;
      const [local, cloud] = await Promise.all([mysqlSide(a), mysqlSide(b)]);
      for (const s of [local, cloud]) {
        for (const t of tables) {
          await s.sql(`CREATE TABLE ${t} (id INT PRIMARY KEY, v VARCHAR(40) NOT NULL)`);
        }
        await s.sql(MYSQL_MARKER_DDL);
      }
      return { local, cloud };
    },
  });
});

/** Where the source's log ends now. */
async function logEnd(side: SideDb): Promise<string> {
  if (side.engine === "postgres") {
    return String((await side.sql("SELECT pg_current_wal_lsn()::text AS l"))[0]?.l);
  }
  const [row] = await side.sql("SHOW MASTER STATUS");
  return JSON.stringify({ file: row?.File, pos: Number(row?.Position) });
}

/** True when the capture's confirmed position is at or before `mark` (a `logEnd`). */
async function confirmedUpTo(
  side: SideDb,
  instance: string,
  dir: string,
  mark: string,
): Promise<boolean> {
  if (side.engine === "postgres") {
    const [row] = await side.sql(
      `SELECT pg_wal_lsn_diff(confirmed_flush_lsn, $1::pg_lsn) <= 0 AS ok
         FROM pg_replication_slots WHERE slot_name = $2`,
      [mark, `synchub_sync_${instance}_local`],
    );
    return row?.ok === true;
  }
  const store = await openSqliteStore(`${dir}/state.db`);
  try {
    const stored = JSON.parse((await store.capturePosition(`sync-${instance}-local`))!);
    const end = JSON.parse(mark);
    return stored.file === end.file && stored.pos <= end.pos;
  } finally {
    await store.close();
  }
}

/** The same database reached through a proxy that can be cut. */
function proxied(side: SideDb): { side: SideDb; proxy: TcpProxy } {
  const url = new URL(side.url);
  const proxy = new TcpProxy({ hostname: url.hostname, port: Number(url.port) });
  url.port = String(proxy.port);
  return { side: { ...side, url: url.toString() }, proxy };
}

for (const engine of engines) {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({
      name: `realtime ${engine.name}: ${name}`,
      fn,
      ignore: engine.ignore,
      sanitizeOps: false,
      sanitizeResources: false,
    });

  t("24 tables sync at once, both ways", async () => {
    const tables = Array.from({ length: 24 }, (_, i) => `t${String(i).padStart(2, "0")}`);
    const s = await engine.make(tables);
    const live = await liveSync(s, { workers: 8, tables: tables.map((name) => ({ name })) });
    try {
      await Promise.all(tables.map(async (name, i) => {
        for (let id = 1; id <= 20; id++) {
          // Local owns odd ids, cloud even ones: no conflicts, both directions busy.
          const side = id % 2 ? s.local : s.cloud;
          await side.sql(`INSERT INTO ${name} (id, v) VALUES (${id}, 'v${i}-${id}')`);
        }
        await s.local.sql(`UPDATE ${name} SET v = 'changed' WHERE id = 3`);
        await s.cloud.sql(`DELETE FROM ${name} WHERE id = 4`);
      }));
      await waitEqual(s, tables);
      for (const name of tables) {
        const rows = await s.cloud.sql(`SELECT COUNT(*) AS n FROM ${name}`);
        assert.equal(Number(rows[0]?.n), 19);
      }
      const state = live.service.realtime.state();
      assert.equal(state.tables.length, 48);
      assert.ok(state.tables.every((x) => x.state === "streaming"), JSON.stringify(state));
      const synced = state.tables.reduce((n, x) => n + x.rows_synced, 0);
      assert.equal(synced, 24 * 22, "20 inserts, 1 update and 1 delete per table, once each");
    } finally {
      await live.stop();
      await Promise.all([s.local.drop(), s.cloud.drop()]);
    }
  });

  t("an unreachable target: retried, shown, nothing confirmed or lost", async () => {
    const s = await engine.make(["items"]);
    const { side: cloudVia, proxy } = proxied(s.cloud);
    const dir = await Deno.makeTempDir({ prefix: "sync-faults-" });
    const raw = syncConfigFor({ local: s.local, cloud: cloudVia }, dir, {
      mode: "local_to_cloud",
      tables: [{ name: "items" }],
    });
    let live = await liveSync(s, {}, { dir, config: raw });
    try {
      await s.local.sql("INSERT INTO items (id, v) VALUES (1, 'a'), (2, 'b')");
      await waitEqual(s, ["items"]);
      const instance = (raw.sync as { instance: string }).instance;
      const mark = await logEnd(s.local);
      proxy.setDown(true);
      await s.local.sql("INSERT INTO items (id, v) VALUES (3, 'c')");
      await s.local.sql("UPDATE items SET v = 'a2' WHERE id = 1");
      await s.local.sql("DELETE FROM items WHERE id = 2");
      await waitFor(
        () => live.service.realtime.state().tables[0]?.state === "retrying",
        "the status to show the retries",
      );
      assert.ok(live.service.realtime.state().tables[0]!.error, "the reason is shown");
      // Stopped while the target is still down: nothing past the first unapplied change is
      // confirmed to the source.
      await live.stop();
      assert.ok(
        await confirmedUpTo(s.local, instance, dir, mark),
        "the source's confirmed position stays before the changes the target lacks",
      );
      assert.equal(
        (await s.cloud.sql("SELECT v FROM items ORDER BY id")).map((r) => r.v).join(),
        "a,b",
      );
      proxy.setDown(false);
      live = await liveSync(s, {}, { dir, config: raw });
      await waitEqual(s, ["items"]);
      assert.deepEqual(await s.cloud.sql("SELECT id, v FROM items ORDER BY id"), [
        { id: 1, v: "a2" },
        { id: 3, v: "c" },
      ]);
      // And once more live: cut, change, back.
      proxy.setDown(true);
      await s.local.sql("INSERT INTO items (id, v) VALUES (4, 'd')");
      await waitFor(
        () => live.service.realtime.state().tables[0]?.state === "retrying",
        "retrying again",
      );
      proxy.setDown(false);
      await waitEqual(s, ["items"]);
      await waitFor(
        () => live.service.realtime.state().tables[0]?.state === "streaming",
        "streaming again",
      );
    } finally {
      await live.stop();
      proxy.close();
      await Promise.all([s.local.drop(), s.cloud.drop()]);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  });
}

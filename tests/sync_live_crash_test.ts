/**
 * Nothing lost (SPEC §8.2), end to end with the service as its own process: kill -9 in the middle
 * of a stream of inserts, updates and deletes, restart, and the tables end equal — the capture
 * resumed from what the target had committed (binlog position in the state store, the slot's
 * confirmed LSN), never from "now". On PostgreSQL and on MariaDB.
 */
import assert from "node:assert/strict";
import { freePort } from "../tools/servers/process.ts";
import { MYSQL_MARKER_DDL } from "../services/sync/engine/mysql.ts";
import { openSqliteStore } from "../services/sync/state_store/sqlite.ts";
import type { SideDb } from "./support/sync.ts";
import { mysqlSide, mysqlUrls, postgresSide, withTwoMySql } from "./support/sync.ts";
import { syncConfigFor, SyncProcess, waitEqual } from "./support/sync_live.ts";
import { waitFor } from "./support/wait.ts";

type Sides = Record<"local" | "cloud", SideDb>;

const engines: { name: string; ignore: boolean; make: () => Promise<Sides>; now: string }[] = [
  {
    name: "PostgreSQL",
    ignore: false,
    now: "clock_timestamp()",
    async make() {
      const [local, cloud] = await Promise.all([postgresSide(), postgresSide()]);
      for (const s of [local, cloud]) {
        await s.sql(`CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL, n int NOT NULL,
          updated_at timestamptz NOT NULL)`);
        await s.sql("ALTER TABLE items REPLICA IDENTITY FULL");
      }
      return { local, cloud };
    },
  },
];
withTwoMySql("realtime kill -9 on MariaDB", (ignore) => {
  engines.push({
    name: "MariaDB",
    ignore,
    now: "NOW(6)",
    async make() {
      const [a, b] = mysqlUrls()!;
      const [local, cloud] = await Promise.all([mysqlSide(a), mysqlSide(b)]);
      for (const s of [local, cloud]) {
        await s.sql(`CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(40) NOT NULL,
          n INT NOT NULL, updated_at DATETIME(6) NOT NULL)`);
        await s.sql(MYSQL_MARKER_DDL);
      }
      return { local, cloud };
    },
  });
});

/** A stream of single-row changes on one side: inserts, updates, deletes over a few hundred ids. */
async function writeChanges(side: SideDb, now: string, count: number, seed: number) {
  let x = seed;
  const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  for (let i = 0; i < count; i++) {
    const id = next() % 300;
    const op = next() % 10;
    if (op < 6) {
      await side.sql(
        side.engine === "mysql"
          ? `INSERT INTO items VALUES (${id}, 'v${i}', ${i}, ${now})
               ON DUPLICATE KEY UPDATE v = VALUES(v), n = VALUES(n), updated_at = VALUES(updated_at)`
          : `INSERT INTO items VALUES (${id}, 'v${i}', ${i}, ${now})
               ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v, n = EXCLUDED.n, updated_at = EXCLUDED.updated_at`,
      );
    } else if (op < 9) {
      await side.sql(`UPDATE items SET n = n + 1, updated_at = ${now} WHERE id = ${id}`);
    } else {
      await side.sql(`DELETE FROM items WHERE id = ${id}`);
    }
  }
}

for (const engine of engines) {
  Deno.test({
    name: `realtime ${engine.name}: kill -9 mid-stream, restart → equal tables`,
    ignore: engine.ignore,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const s = await engine.make();
      const dir = await Deno.makeTempDir({ prefix: "sync-crash-" });
      const port = freePort();
      const config = syncConfigFor(s, dir, {
        mode: "local_to_cloud",
        batch_size: 50,
        tables: [{ name: "items", timestamp_column: "updated_at" }],
      });
      config.server = { port };
      await Deno.writeTextFile(`${dir}/sync.yaml`, JSON.stringify(config));
      const capturing = async () => {
        const text = await fetch(`http://127.0.0.1:${port}/metrics`).then(
          (r) => r.text(),
          () => "",
        );
        return /synchub_sync_realtime_capture_up\{side="local"\} 1/.test(text);
      };
      const sync = new SyncProcess(`${dir}/sync.yaml`, dir);
      try {
        sync.start();
        await waitFor(capturing, "the sync process to capture", 60_000);
        const writing = writeChanges(s.local, engine.now, 1500, 7);
        // Kill it while changes are being applied, once some have crossed.
        await waitFor(
          async () => Number((await s.cloud.sql("SELECT COUNT(*) AS n FROM items"))[0]?.n) > 50,
          "changes to reach cloud",
        );
        const status = await sync.kill9();
        assert.equal(status.signal, "SIGKILL");
        await writing;
        await writeChanges(s.local, engine.now, 200, 99); // more while it is down
        sync.start();
        await waitEqual(s, ["items"], 120_000).catch((err) => {
          console.error(`sync process log (last lines):\n${sync.logs.slice(-40).join("\n")}`);
          throw err;
        });
        const store = await openSqliteStore(`${dir}/state.db`);
        try {
          const state = await store.tableState("items", "local_to_cloud");
          assert.ok(state?.position, "the table's applied position is stored");
          const open = await store.listConflicts({ status: "unresolved" });
          assert.deepEqual(open.conflicts, [], "nothing parked by the replay");
        } finally {
          await store.close();
        }
        assert.ok(
          sync.logged(/"realtime.*streaming|streaming the binlog|streaming WAL/).length >= 2,
          "captured twice",
        );
      } finally {
        await sync.stop();
        await Promise.all([s.local.drop(), s.cloud.drop()]);
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  });
}

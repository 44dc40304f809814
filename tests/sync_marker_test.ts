/**
 * No echo, applier side: every transaction the sync writes starts with its marker row, in the
 * same transaction as the rows — shown in MariaDB's binlog and PostgreSQL's logical decoding —
 * with only the minimal privileges of SPEC §8.1 (no SUPER, no BINLOG ADMIN, no REPLICATION).
 */
import assert from "node:assert/strict";
import { silentLogger } from "../lib/log.ts";
import { MARKER_TABLE } from "../services/sync/engine/database.ts";
import { MYSQL_MARKER_DDL } from "../services/sync/engine/mysql.ts";
import { openDatabase } from "../services/sync/engine/open.ts";
import { PG_MARKER_DDL } from "../services/sync/engine/postgres.ts";
import { withMySql } from "./support/mysql.ts";
import { mysqlSide, postgresSide } from "./support/sync.ts";

const test = (name: string, fn: () => Promise<void>, ignore = false) =>
  Deno.test({ name, fn, ignore, sanitizeOps: false, sanitizeResources: false });
const t = (name: string, fn: () => Promise<void>) => test(name, fn);
const marker = { instance: "test", direction: "local_to_cloud" };

withMySql("sync marker on MariaDB", (server, { ignore }) => {
  const t = (name: string, fn: () => Promise<void>) => test(name, fn, ignore);
  t(
    "marker MariaDB: first row event of each applied transaction, for a user without SUPER",
    async () => {
      const side = await mysqlSide(server);
      const db = new URL(side.url).pathname.slice(1);
      const user = `u${crypto.randomUUID().slice(0, 8)}`;
      await side.sql(
        "CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(10) NOT NULL, UNIQUE KEY (v))",
      );
      await side.sql(MYSQL_MARKER_DDL); // created once by an administrator
      await side.sql(`CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY 'pw'`);
      await side.sql(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${db}.* TO '${user}'@'127.0.0.1'`);
      const url = new URL(side.url);
      url.username = user;
      url.password = "pw";
      const engine = await openDatabase("cloud", url.toString(), {
        connections: 2,
        log: silentLogger,
      });
      try {
        // The privileges the alternatives would need are not there.
        await assert.rejects(
          (async () => {
            const probe = await import("./support/mysql.ts").then((m) =>
              m.mysqlConnection(url.toString(), db)
            );
            try {
              await probe.query("SET SESSION sql_log_bin = 0");
            } finally {
              await probe.end();
            }
          })(),
          /SUPER|BINLOG ADMIN|denied/i,
        );
        await engine.ensureMarkerTable();
        const shape = await engine.describe({ name: "items", primary_key: undefined });
        const [{ File: file } = { File: "" }] = (await side.sql("SHOW MASTER STATUS")) as {
          File: string;
        }[];
        await engine.apply(shape, [
          { kind: "upsert", row: { id: 1, v: "a" } },
          { kind: "upsert", row: { id: 2, v: "b" } },
        ], marker);
        await engine.apply(shape, [
          { kind: "upsert", row: { id: 1, v: "a2" } },
          { kind: "delete", key: { id: 2 } },
        ], marker);
        // A refused transaction leaves no marker behind either.
        await assert.rejects(
          engine.apply(shape, [{ kind: "upsert", row: { id: 3, v: "a2" } }], marker),
        );

        const events = await side.sql(`SHOW BINLOG EVENTS IN '${file}'`) as {
          Event_type: string;
          Info: string;
        }[];
        const transactions: string[][] = [];
        let open: string[] | undefined;
        for (const e of events) {
          if (e.Event_type === "Gtid" && /BEGIN/.test(e.Info)) transactions.push(open = []);
          else if (e.Event_type === "Xid") open = undefined;
          else if (open && e.Event_type === "Table_map") open.push(/\(([^)]+)\)/.exec(e.Info)![1]!);
        }
        const ours = transactions.filter((tables) => tables.includes(`${db}.items`));
        assert.equal(ours.length, 2);
        for (const tables of ours) {
          assert.equal(tables[0], `${db}.${MARKER_TABLE}`, tables.join(", "));
        }
        const [mark] = await side.sql(`SELECT instance, direction, txn FROM ${MARKER_TABLE}`);
        assert.deepEqual(mark, { instance: "test", direction: "local_to_cloud", txn: 2 });
      } finally {
        await engine.close();
        await side.sql(`DROP USER '${user}'@'127.0.0.1'`);
        await side.drop();
      }
    },
  );
});

t(
  "marker PostgreSQL: first change of each applied transaction, same xid as the rows, no REPLICATION needed",
  async () => {
    const side = await postgresSide();
    const role = `r${crypto.randomUUID().slice(0, 8)}`;
    await side.sql("CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL UNIQUE)");
    await side.sql(PG_MARKER_DDL);
    await side.sql(`CREATE ROLE ${role} LOGIN PASSWORD 'pw'`);
    await side.sql(`GRANT SELECT, INSERT, UPDATE, DELETE ON items, ${MARKER_TABLE} TO ${role}`);
    await side.sql("SELECT pg_create_logical_replication_slot('marker_probe', 'test_decoding')");
    const url = new URL(side.url);
    url.username = role;
    url.password = "pw";
    const engine = await openDatabase("cloud", url.toString(), {
      connections: 2,
      log: silentLogger,
    });
    try {
      const shape = await engine.describe({ name: "items", primary_key: undefined });
      await engine.apply(shape, [
        { kind: "upsert", row: { id: 1, v: "a" } },
        { kind: "upsert", row: { id: 2, v: "b" } },
      ], marker);
      await engine.apply(shape, [{ kind: "delete", key: { id: 2 } }, {
        kind: "upsert",
        row: { id: 1, v: "c" },
      }], marker);
      await assert.rejects(
        engine.apply(shape, [{ kind: "upsert", row: { id: 3, v: "c" } }], marker),
      );

      const same = await side.sql(
        `SELECT (SELECT xmin::text FROM ${MARKER_TABLE} ORDER BY updated_at DESC LIMIT 1) =
        (SELECT xmin::text FROM items WHERE id = 1) AS same`,
      );
      assert.deepEqual(same, [{ same: true }]);
      const changes = await side.sql(
        "SELECT data FROM pg_logical_slot_get_changes('marker_probe', NULL, NULL)",
      );
      const transactions: string[][] = [];
      let open: string[] | undefined;
      for (const { data } of changes as { data: string }[]) {
        if (data.startsWith("BEGIN")) transactions.push(open = []);
        else if (data.startsWith("COMMIT")) open = undefined;
        else if (open) open.push(/^table ([^:]+):/.exec(data)?.[1] ?? data);
      }
      const ours = transactions.filter((tables) => tables.includes("public.items"));
      assert.equal(ours.length, 2);
      for (const tables of ours) {
        assert.equal(tables[0], `public.${MARKER_TABLE}`, tables.join(", "));
      }
      assert.deepEqual(await side.sql(`SELECT txn FROM ${MARKER_TABLE}`), [{ txn: "2" }]);
    } finally {
      await engine.close();
      await side.sql("SELECT pg_drop_replication_slot('marker_probe')");
      await side.drop();
    }
  },
);

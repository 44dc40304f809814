/** The binlog source against the MariaDB `deno task test` started: snapshot join, values, setup errors. */
import { columnNamed } from "../lib/access.ts";
import assert from "node:assert/strict";
import type { Envelope } from "../lib/envelope.ts";
import { freePort } from "../tools/servers/process.ts";
import { createLogger, silentLogger } from "../lib/log.ts";
import { startMariaDb } from "../tools/servers/mariadb.ts";
import { createPool } from "../lib/postgres/pool.ts";
import { PgPositionStore, type PositionStore } from "../lib/postgres/positions.ts";
import { BinlogSource } from "../services/listener/mysql/binlog_source.ts";
import { mysqlConnection, withMySql } from "./support/mysql.ts";
import { MemoryPositionStore } from "./support/positions.ts";
import { testDatabase } from "./support/postgres.ts";
import { run } from "./support/source_contract.ts";
import { startStack } from "./support/stack.ts";
import { waitFor } from "./support/wait.ts";
import { TestClient } from "./support/ws_client.ts";

const unique = () => crypto.randomUUID().replace(/-/g, "").slice(0, 10);

withMySql("mysql source", (url, opts) => {
  const source = (
    db: string,
    positions: PositionStore = new MemoryPositionStore(),
    over: Partial<ConstructorParameters<typeof BinlogSource>[0]> = {},
  ) =>
    new BinlogSource({
      name: "shop",
      url: `${url}${db}`,
      tables: undefined,
      bucketColumns: columnNamed("bucket"),
      serverId: 7000 + Math.floor(Math.random() * 1000),
      positions,
      log: silentLogger,
      ...over,
    });

  /** All envelopes a source produced, snapshot rows included. */
  function stream(s: BinlogSource) {
    const ac = new AbortController();
    const all: Envelope[] = [];
    let failed: unknown;
    const running = (async () => {
      for await (const b of s.stream(ac.signal)) {
        all.push(...b.envelopes);
        if (b.checkpoint !== null) await s.confirm(b.checkpoint);
      }
    })().catch((e) => failed = e);
    return {
      all,
      failed: () => failed,
      stop: async () => {
        ac.abort();
        await running;
      },
    };
  }

  Deno.test(
    "mysql: the initial snapshot joins the binlog with no gap and no double, under writes",
    opts,
    async () => {
      const db = `s_${unique()}`;
      const conn = await mysqlConnection(url);
      await conn.query(
        `CREATE DATABASE ${db}; CREATE TABLE ${db}.items (id int PRIMARY KEY, bucket text, title text, n int)`,
      );
      await conn.query(
        `INSERT INTO ${db}.items SELECT seq, 'a', CONCAT('row ', seq), 0 FROM ${db}.seq_1_to_12000`,
      );
      let writing = true, next = 100_000;
      const writer = (async () => {
        while (writing) {
          await conn.query(`INSERT INTO ${db}.items VALUES (${next++}, 'a', 'new', 0)`);
          await conn.query(
            `UPDATE ${db}.items SET n = n + 1 WHERE id = ${1 + Math.floor(Math.random() * 12000)}`,
          );
          await conn.query(
            `DELETE FROM ${db}.items WHERE id = ${1 + Math.floor(Math.random() * 12000)}`,
          );
        }
      })();
      const s = stream(source(db));
      try {
        await waitFor(
          () => s.failed() ?? s.all.some((e) => e.op === "c"),
          "streaming after the snapshot",
          60_000,
        );
        writing = false;
        await writer;
        const [rows] = await conn.query(`SELECT id, n FROM ${db}.items`) as unknown as [
          { id: number; n: number }[],
        ];
        const expected = new Map(rows.map((r) => [r.id, r.n]));
        await waitFor(
          () => {
            const state = new Map<number, number>();
            for (const e of s.all) {
              const id = Number(e.key.id);
              if (e.op === "d") state.delete(id);
              else state.set(id, Number(e.after!.n));
            }
            return state.size === expected.size &&
              [...expected].every(([id, n]) => state.get(id) === n);
          },
          "the source's picture to equal the table",
          60_000,
        );
        assert.equal(s.all.filter((e) => e.op === "r").length >= 11_000, true);
        const ids = s.all.map((e) => e.id);
        assert.equal(new Set(ids).size, ids.length, "no envelope twice");
        const created = new Set(s.all.filter((e) => e.op === "c").map((e) => Number(e.key.id)));
        assert.ok(
          s.all.filter((e) => e.op === "r").every((e) => !created.has(Number(e.key.id))),
          "a snapshot row created again",
        );
      } finally {
        writing = false;
        await s.stop();
        await conn.query(`DROP DATABASE ${db}`);
        await conn.end();
      }
    },
  );

  Deno.test("mysql: values map per SPEC §2", opts, async () => {
    const db = `v_${unique()}`;
    const conn = await mysqlConnection(url);
    await conn.query(`CREATE DATABASE ${db}; CREATE TABLE ${db}.kinds (
      id bigint unsigned PRIMARY KEY, price decimal(30,10), doc json, at datetime(6), ts timestamp(6) NULL,
      d date, b blob, e enum('x','y'), f double, flag bit(1), t varchar(10))`);
    const r = await run(source(db));
    try {
      await conn.query(
        `INSERT INTO ${db}.kinds VALUES (18446744073709551615, 12345678901234567890.0123456789,
        '{"k":[1,{"z":null}]}', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.654321', '2024-01-02',
        x'00ff10', 'y', 1.5, b'1', 'héllo')`,
      );
      const [e] = await r.wait(1);
      assert.deepEqual(e!.after, {
        id: "18446744073709551615",
        price: "12345678901234567890.0123456789",
        doc: { k: [1, { z: null }] },
        at: "2024-01-02T03:04:05.123456",
        ts: "2024-01-02T03:04:05.654321Z",
        d: "2024-01-02",
        b: "AP8Q",
        e: "y",
        f: 1.5,
        flag: 1,
        t: "héllo",
      });
    } finally {
      await r.stop();
      await conn.query(`DROP DATABASE ${db}`);
      await conn.end();
    }
  });

  Deno.test(
    "mysql: positions are stored in the hub's PostgreSQL once confirmed, and resumed from",
    opts,
    async () => {
      const pg = await testDatabase();
      const pool = createPool(pg.url, { log: silentLogger });
      const positions = new PgPositionStore(pool);
      const db = `p_${unique()}`;
      const conn = await mysqlConnection(url);
      await conn.query(
        `CREATE DATABASE ${db}; CREATE TABLE ${db}.items (id int PRIMARY KEY, bucket text, title text, n int)`,
      );
      await conn.query(`INSERT INTO ${db}.items VALUES (1, 'a', 'before', 0)`);
      try {
        const first = stream(source(db, positions));
        await waitFor(() => first.all.some((e) => e.op === "r"), "the snapshot");
        await conn.query(`INSERT INTO ${db}.items VALUES (2, 'a', 'streamed', 0)`);
        await waitFor(() => first.all.some((e) => e.op === "c"), "the insert");
        await first.stop();
        const stored = await positions.load("shop");
        assert.ok(stored && JSON.parse(stored).file, `stored: ${stored}`);

        await conn.query(`INSERT INTO ${db}.items VALUES (3, 'a', 'while away', 0)`);
        const second = stream(source(db, positions));
        try {
          await waitFor(
            () => second.all.some((e) => e.after?.title === "while away"),
            "the change made while away",
          );
          assert.equal(second.all.filter((e) => e.op === "r").length, 0, "no second snapshot");
          assert.ok(
            !second.all.some((e) => e.after?.title === "streamed"),
            "a confirmed change came again",
          );
        } finally {
          await second.stop();
        }
      } finally {
        await conn.query(`DROP DATABASE ${db}`);
        await conn.end();
        await pool.end();
        await pg.drop();
      }
    },
  );

  Deno.test("mysql: a server without ROW binlogs is refused with what to set", opts, async () => {
    const dir = await Deno.makeTempDir({ prefix: "synchub-stmt-" });
    await Deno.chmod(dir, 0o755);
    const server = await startMariaDb({
      dataDir: `${dir}/db`,
      port: freePort(),
      log: createLogger("statement-mariadb", "error"),
      extraArgs: ["--binlog-format=STATEMENT"],
    });
    try {
      const s = source("", new MemoryPositionStore(), { url: server.url.replace(/\/$/, "/mysql") });
      await assert.rejects(async () => {
        for await (const _ of s.stream(new AbortController().signal)) { /* none */ }
      }, /binlog_format is STATEMENT: set binlog_format=ROW/);
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  });

  Deno.test(
    "mysql: a change reaches a WebSocket subscriber of db.table through the hub",
    opts,
    async () => {
      const db = `e_${unique()}`;
      const conn = await mysqlConnection(url);
      await conn.query(
        `CREATE DATABASE ${db}; CREATE TABLE ${db}.orders (id int PRIMARY KEY, bucket varchar(20), total decimal(10,2))`,
      );
      const stack = await startStack({
        env: {
          MYSQL_URL: `${url}${db}`,
          MYSQL_SERVER_ID: String(8000 + Math.floor(Math.random() * 999)),
        },
      });
      const client = await TestClient.connect(stack.wsUrl, await stack.token(["a"]));
      try {
        await waitFor(
          () => fetch(`${stack.listener.url}/ready`).then((r) => (r.body?.cancel(), r.ok)),
          "the MySQL source",
        );
        const sub = await client.subscribe(`${db}.orders`, { where: { total: { gt: "10" } } });
        assert.equal(sub.type, "subscribed", JSON.stringify(sub));
        await conn.query(
          `INSERT INTO ${db}.orders VALUES (1, 'a', 5.00), (2, 'a', 99.50), (3, 'b', 500.00)`,
        );
        const [c] = await client.changes(1);
        assert.deepEqual([c!.change.op, c!.change.after, c!.change.source.connector], ["c", {
          id: 2,
          bucket: "a",
          total: "99.50",
        }, "mysql"]);
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(client.pendingChanges().length, 0, "the filter and the bucket held");
        const snap = await client.subscribe(`${db}.orders`, { snapshot: true });
        assert.equal(snap.code, "bad_request");
      } finally {
        await client.close();
        await stack.close();
        await conn.query(`DROP DATABASE ${db}`);
        await conn.end();
      }
    },
  );
});

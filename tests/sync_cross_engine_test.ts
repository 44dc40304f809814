/**
 * PostgreSQL ↔ MySQL in either direction with the type mapping of services/sync/README.md: the
 * values arrive as the other engine stores them, and a second run finds the tables equal (row
 * hashes agree across engines), so it writes nothing.
 */
import assert from "node:assert/strict";
import { runBatch } from "../services/sync/batch/run.ts";
import { withMySql } from "./support/mysql.ts";
import { digest, harness, mysqlSide, postgresSide } from "./support/sync.ts";

const test = (name: string, fn: () => Promise<void>, ignore = false) =>
  Deno.test({ name, fn, ignore, sanitizeOps: false, sanitizeResources: false });

withMySql("sync PostgreSQL↔MySQL", (mysqlUrl, { ignore }) => {
  const t = (name: string, fn: () => Promise<void>) => test(name, fn, ignore);
  t("sync PG→MySQL: every mapped type arrives; a second run copies nothing", async () => {
    const pg = await postgresSide();
    const my = await mysqlSide(mysqlUrl);
    await pg.sql(`CREATE TABLE things (
      id bigint PRIMARY KEY, n int, flag boolean, price numeric(10,2), ratio double precision,
      name varchar(50), note text, uid uuid, doc jsonb, tags text[], raw bytea, day date,
      at_time time, local_at timestamp, at timestamptz, updated_at timestamptz NOT NULL)`);
    await my.sql(`CREATE TABLE things (
      id BIGINT PRIMARY KEY, n INT, flag TINYINT(1), price DECIMAL(10,2), ratio DOUBLE,
      name VARCHAR(50), note TEXT, uid CHAR(36), doc JSON, tags JSON, raw VARBINARY(64), day DATE,
      at_time TIME(6), local_at DATETIME(6), at DATETIME(6), updated_at DATETIME(6) NOT NULL)`);
    await pg.sql(`INSERT INTO things VALUES
      (1, 42, true, 12.50, 0.25, 'ünïcode ✓', 'line1
line2', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b": [1, 2], "a": {"x": null}}', ARRAY['x', 'y'],
       '\\xdeadbeef', '2024-02-29', '13:14:15.5', '2024-01-02 03:04:05.123456',
       '2024-01-02 03:04:05.123456+02', now()),
      (2, NULL, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, now()),
      (9007199254740993, -1, true, -0.5, 1e-10, '', '', NULL, '[]', '{}', '\\x', '1999-12-31',
       '00:00:00', '1970-01-01 00:00:00', '1970-01-01 00:00:00Z', now())`);
    const h = await harness({ local: pg, cloud: my }, {
      tables: [{ name: "things", timestamp_column: "updated_at" }],
    });
    try {
      const run = await runBatch(h.ctx);
      assert.equal(run.status, "completed", run.error ?? "");
      assert.deepEqual((await h.ctx.store.listConflicts({})).conflicts.map((c) => c.error), []);
      assert.equal(run.total_rows, 3);
      const [row] = await my.sql(
        `SELECT n, flag, price, ratio, name, note, uid, JSON_EXTRACT(doc, '$.b[1]') AS b, tags,
           HEX(raw) AS raw, CAST(day AS CHAR) AS day, CAST(at_time AS CHAR) AS at_time,
           CAST(local_at AS CHAR) AS local_at, CAST(at AS CHAR) AS at FROM things WHERE id = 1`,
      );
      const tags = typeof row?.tags === "string" ? JSON.parse(row.tags) : row?.tags;
      assert.deepEqual({ ...row, tags }, {
        n: 42,
        flag: 1,
        price: "12.50",
        ratio: 0.25,
        name: "ünïcode ✓",
        note: "line1\nline2",
        uid: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        b: 2,
        tags: ["x", "y"],
        raw: "DEADBEEF",
        day: "2024-02-29",
        at_time: "13:14:15.500000",
        local_at: "2024-01-02 03:04:05.123456",
        at: "2024-01-02 01:04:05.123456", // timestamptz lands in UTC
      });
      const [big] = await my.sql(
        "SELECT CAST(id AS CHAR) AS id, flag, price FROM things WHERE id > 2",
      );
      assert.deepEqual(big, { id: "9007199254740993", flag: 1, price: "-0.50" });
      // Equal by hash across engines: nothing to copy the second time.
      const again = await runBatch(h.ctx);
      assert.equal(again.total_rows, 0);
      assert.equal(again.status, "completed");
    } finally {
      await h.close();
      await Promise.all([pg.drop(), my.drop()]);
    }
  });

  t(
    "sync MySQL→PG: MariaDB's types arrive in PostgreSQL's; a second run copies nothing",
    async () => {
      const pg = await postgresSide();
      const my = await mysqlSide(mysqlUrl);
      await my.sql(`CREATE TABLE orders (
      shop INT NOT NULL, num INT NOT NULL, paid TINYINT(1) NOT NULL, total DECIMAL(12,3),
      status ENUM('new', 'shipped'), meta JSON, pdf BLOB, placed DATETIME(3), seen TIMESTAMP(6) NULL,
      PRIMARY KEY (shop, num))`);
      await pg.sql(`CREATE TABLE orders (
      shop int NOT NULL, num int NOT NULL, paid boolean NOT NULL, total numeric(12,3),
      status text, meta jsonb, pdf bytea, placed timestamp(3), seen timestamptz,
      PRIMARY KEY (shop, num))`);
      await my.sql(`INSERT INTO orders VALUES
      (1, 1, 1, 10.5, 'new', '{"gift": true, "lines": [1, 2]}', X'00FF', '2024-03-04 05:06:07.890', '2024-03-04 05:06:07.123456'),
      (1, 2, 0, NULL, 'shipped', NULL, NULL, NULL, NULL),
      (2, 1, 1, 0, 'new', '"text"', X'', '2000-01-01 00:00:00', '2000-01-01 00:00:00')`);
      const h = await harness({ local: my, cloud: pg }, {
        tables: [{ name: "orders" }],
        batch_size: 2,
      });
      try {
        const run = await runBatch(h.ctx);
        assert.equal(run.status, "completed", run.error ?? "");
        assert.equal(run.total_rows, 3);
        const rows = await pg.sql(
          `SELECT shop, num, paid, total::text, status, meta, encode(pdf, 'hex') AS pdf,
           placed::text, seen::text FROM orders ORDER BY shop, num`,
        );
        assert.deepEqual(rows[0], {
          shop: 1,
          num: 1,
          paid: true,
          total: "10.500",
          status: "new",
          meta: { gift: true, lines: [1, 2] },
          pdf: "00ff",
          placed: "2024-03-04 05:06:07.89",
          seen: "2024-03-04 05:06:07.123456+00",
        });
        assert.equal(rows[1]?.paid, false);
        assert.equal(rows[2]?.meta, "text");
        assert.deepEqual(await digest(h.ctx, "cloud", "orders").then((d) => d.size), 3);
        const again = await runBatch(h.ctx);
        assert.equal(again.total_rows, 0);
      } finally {
        await h.close();
        await Promise.all([pg.drop(), my.drop()]);
      }
    },
  );
});

/** The PostgreSQL source against a real server: every op, values, TOAST, transactions, restarts. */
import { columnNamed } from "../lib/access.ts";
import assert from "node:assert/strict";
import { silentLogger } from "../lib/log.ts";
import { WalSource } from "../services/listener/postgres/wal_source.ts";
import { testDatabase, withClient } from "./support/postgres.ts";
import { waitFor } from "./support/wait.ts";
import { runSource } from "./support/wal.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const slotName = () => `s_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`;

Deno.test("insert, update, delete and truncate become SPEC envelopes", opts, async () => {
  const db = await testDatabase();
  const run = await runSource(db.url, slotName());
  try {
    const [row] = await db.sql<{ id: string }>(
      "INSERT INTO todos (bucket, title) VALUES ('a', 'milk') RETURNING id",
    );
    const id = row!.id;
    await db.sql("UPDATE todos SET done = true, version = version + 1 WHERE id = $1", [id]);
    await db.sql("UPDATE todos SET title = title WHERE id = $1", [id]);
    await db.sql("DELETE FROM todos WHERE id = $1", [id]);
    await db.sql("INSERT INTO todos (bucket, title) VALUES ('b', 'eggs')");
    await db.sql("TRUNCATE todos");
    const [c, u, same, d, , t] = await run.waitForEnvelopes(6);

    assert.equal(c!.op, "c");
    assert.deepEqual(c!.key, { id });
    assert.equal(c!.before, null);
    assert.equal(c!.after!.title, "milk");
    assert.equal(c!.after!.done, false);
    assert.equal(c!.bucket, "a");
    assert.equal(c!.changed, null);
    assert.deepEqual(
      {
        connector: c!.source.connector,
        name: c!.source.name,
        db: c!.source.db,
        schema: c!.source.schema,
        table: c!.source.table,
        snapshot: c!.source.snapshot,
      },
      {
        connector: "postgresql",
        name: "pg",
        db: db.name,
        schema: "public",
        table: "todos",
        snapshot: "false",
      },
    );

    assert.equal(u!.op, "u");
    assert.deepEqual(u!.key, { id });
    assert.deepEqual(u!.changed, ["done", "version"]);
    assert.equal(u!.before!.done, false);
    assert.equal(u!.after!.done, true);
    assert.deepEqual(same!.changed, [], "an update that changes nothing lists nothing");

    assert.equal(d!.op, "d");
    assert.deepEqual(d!.key, { id });
    assert.equal(d!.after, null);
    assert.equal(d!.before!.title, "milk");
    assert.equal(d!.bucket, "a", "a delete carries the bucket of its old row");

    assert.equal(t!.op, "t");
    assert.deepEqual([t!.key, t!.before, t!.after, t!.bucket], [{}, null, null, null]);

    const ids = run.envelopes().map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, "ids are unique");
  } finally {
    await run.stop();
    await db.drop();
  }
});

Deno.test(
  "a multi-table transaction keeps its order, its transaction block and one commit",
  opts,
  async () => {
    const db = await testDatabase();
    await db.sql("CREATE TABLE notes (id serial PRIMARY KEY, body text) ");
    const run = await runSource(db.url, slotName());
    try {
      await withClient(db.url, async (c) => {
        await c.query("BEGIN");
        await c.query("INSERT INTO todos (title) VALUES ('1'), ('2')");
        await c.query("INSERT INTO notes (body) VALUES ('n1')");
        await c.query("UPDATE todos SET done = true WHERE title = '1'");
        await c.query("COMMIT");
      });
      const envs = await run.waitForEnvelopes(4);
      assert.equal(run.batches.length, 1, "one transaction is one batch");
      assert.deepEqual(envs.map((e) => `${e.op}:${e.source.table}`), [
        "c:todos",
        "c:todos",
        "c:notes",
        "u:todos",
      ]);
      assert.deepEqual(envs.map((e) => e.transaction!.total_order), [1, 2, 3, 4]);
      assert.deepEqual(envs.map((e) => e.transaction!.data_collection_order), [1, 2, 1, 3]);
      assert.equal(new Set(envs.map((e) => e.source.txId)).size, 1);
      assert.equal(new Set(envs.map((e) => e.source.ts_ms)).size, 1, "one commit time");
      assert.deepEqual(envs[2]!.key, { id: 1 });
      assert.equal(envs[2]!.bucket, null, "a table without a bucket column has null buckets");
    } finally {
      await run.stop();
      await db.drop();
    }
  },
);

Deno.test("positions sort in commit order, not in begin order", opts, async () => {
  const db = await testDatabase();
  const run = await runSource(db.url, slotName());
  try {
    await withClient(db.url, (first) =>
      withClient(db.url, async (second) => {
        await first.query("BEGIN");
        await first.query("INSERT INTO todos (title) VALUES ('began first')");
        await second.query("BEGIN");
        await second.query("INSERT INTO todos (title) VALUES ('committed first')");
        await second.query("COMMIT");
        await first.query("COMMIT");
      }));
    const envs = await run.waitForEnvelopes(2);
    assert.deepEqual(envs.map((e) => e.after!.title), ["committed first", "began first"]);
    assert.ok(envs[0]!.source.position < envs[1]!.source.position);
    assert.ok(envs[0]!.source.ts_ms <= envs[1]!.source.ts_ms);
  } finally {
    await run.stop();
    await db.drop();
  }
});

Deno.test("values follow the SPEC mapping", opts, async () => {
  const db = await testDatabase();
  await db.sql(`CREATE TYPE mood AS ENUM ('ok', 'great')`);
  await db.sql(`CREATE TABLE kinds (
    id bigint PRIMARY KEY, small int2, big int8, num numeric(30,10), f float8, nan float8, flag bool,
    ts timestamptz, naive timestamp, d date, blob bytea, doc jsonb, j json, tags text[], ids int8[],
    u uuid, m mood, moods mood[], iv interval)`);
  const run = await runSource(db.url, slotName());
  try {
    await db.sql(`INSERT INTO kinds VALUES (
      9007199254740993, 7, 42, 12345678901234567890.0123456789, 1.5, 'NaN', true,
      '2024-01-02 03:04:05.123456+02', '2024-01-02 03:04:05.5', '2024-01-02', '\\x00ff10',
      '{"a": [1, {"b": null}]}', '[1, "x"]', '{a,"b c",NULL}', '{1,9223372036854775807}',
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'great', '{ok,great}', '1 day 2 hours')`);
    const [e] = await run.waitForEnvelopes(1);
    assert.deepEqual(e!.after, {
      id: "9007199254740993",
      small: 7,
      big: 42,
      num: "12345678901234567890.0123456789",
      f: 1.5,
      nan: "NaN",
      flag: true,
      ts: "2024-01-02T01:04:05.123456Z",
      naive: "2024-01-02T03:04:05.5",
      d: "2024-01-02",
      blob: "AP8Q",
      doc: { a: [1, { b: null }] },
      j: [1, "x"],
      tags: ["a", "b c", null],
      ids: [1, "9223372036854775807"],
      u: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
      m: "great",
      moods: ["ok", "great"],
      iv: "P1DT2H",
    });
    assert.deepEqual(e!.key, { id: "9007199254740993" });
  } finally {
    await run.stop();
    await db.drop();
  }
});

Deno.test(
  "an unchanged TOAST value is left out when the server did not send it",
  opts,
  async () => {
    const db = await testDatabase();
    await db.sql("CREATE TABLE docs (id int PRIMARY KEY, bucket text, body text, n int)");
    await db.sql("ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL"); // never compressed inline
    await db.sql("CREATE TABLE fulldocs (id int PRIMARY KEY, body text, n int)");
    await db.sql("ALTER TABLE fulldocs ALTER COLUMN body SET STORAGE EXTERNAL");
    await db.sql("ALTER TABLE fulldocs REPLICA IDENTITY FULL");
    const big = "x".repeat(100_000);
    const run = await runSource(db.url, slotName());
    try {
      await db.sql("INSERT INTO docs VALUES (1, 'a', $1, 0)", [big]);
      await db.sql("UPDATE docs SET n = 1 WHERE id = 1");
      await db.sql("INSERT INTO fulldocs VALUES (1, $1, 0)", [big]);
      await db.sql("UPDATE fulldocs SET n = 1 WHERE id = 1");
      const [ins, upd, fullIns, fullUpd] = await run.waitForEnvelopes(4);
      assert.equal((ins!.after!.body as string).length, 100_000);
      assert.deepEqual(
        upd!.after,
        { id: 1, bucket: "a", n: 1 },
        "body was not sent and must be absent",
      );
      assert.equal(upd!.before, null, "REPLICA IDENTITY DEFAULT sends no old row");
      assert.equal(upd!.changed, null, "without the old row no column is claimed changed");
      assert.equal((fullIns!.after!.body as string).length, 100_000);
      // With REPLICA IDENTITY FULL the server sends the whole old row, so the unchanged value is
      // known (not a placeholder) and is not listed as changed.
      assert.equal(fullUpd!.after!.body, big);
      assert.deepEqual(fullUpd!.changed, ["n"]);
    } finally {
      await run.stop();
      await db.drop();
    }
  },
);

Deno.test(
  "a delete without REPLICA IDENTITY FULL keys on the primary key, its before holding the key",
  opts,
  async () => {
    const db = await testDatabase();
    await db.sql("CREATE TABLE plain (id int PRIMARY KEY, bucket text, v text)");
    const run = await runSource(db.url, slotName());
    try {
      await db.sql("INSERT INTO plain VALUES (5, 'a', 'x')");
      await db.sql("DELETE FROM plain WHERE id = 5");
      const [, d] = await run.waitForEnvelopes(2);
      assert.deepEqual(d!.key, { id: 5 });
      assert.deepEqual(d!.before, { id: 5 }, "before holds at least the key (SPEC §11)");
      assert.equal(d!.bucket, null);
    } finally {
      await run.stop();
      await db.drop();
    }
  },
);

Deno.test(
  "restart without loss: unconfirmed changes come again with the same ids",
  opts,
  async () => {
    const db = await testDatabase();
    const slot = slotName();
    const first = await runSource(db.url, slot, { confirm: false });
    await db.sql("INSERT INTO todos (title) SELECT 'r' || g FROM generate_series(1, 5) g");
    const seen = await first.waitForEnvelopes(5);
    await first.stop(); // nothing was confirmed

    await db.sql("INSERT INTO todos (title) VALUES ('while down')");
    const second = await runSource(db.url, slot);
    try {
      const again = await second.waitForEnvelopes(6);
      assert.deepEqual(again.slice(0, 5).map((e) => e.id), seen.map((e) => e.id));
      assert.equal(again[5]!.after!.title, "while down");
      const last = second.batches.at(-1)!.checkpoint!;
      await waitFor(async () => {
        const [s] = await db.sql<{ lsn: string }>(
          "SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1",
          [slot],
        );
        return s && lsnValue(s.lsn) >= lsnValue(last);
      }, "the confirmed position to reach the server");
    } finally {
      await second.stop();
    }

    // Everything above was confirmed: a third run sees only what is new.
    await db.sql("INSERT INTO todos (title) VALUES ('after confirm')");
    const third = await runSource(db.url, slot);
    try {
      const [only] = await third.waitForEnvelopes(1);
      assert.equal(only!.after!.title, "after confirm");
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(third.envelopes().length, 1, "confirmed changes were delivered again");
    } finally {
      await third.stop();
      await db.drop();
    }
  },
);

Deno.test("a slot made for another plugin is refused with a clear error", opts, async () => {
  const db = await testDatabase();
  const slot = slotName();
  await db.sql("SELECT pg_create_logical_replication_slot($1, 'test_decoding')", [slot]);
  const source = new WalSource({
    name: "pg",
    url: db.url,
    slot,
    publication: "synchub",
    publicationTables: undefined,
    bucketColumns: columnNamed("bucket"),
    log: silentLogger,
  });
  try {
    await assert.rejects(async () => {
      for await (const _ of source.stream(new AbortController().signal)) { /* none */ }
    }, /test_decoding.*pgoutput/);
  } finally {
    await db.drop();
  }
});

Deno.test("a missing publication and slot are created", opts, async () => {
  const db = await testDatabase();
  await db.sql("DROP PUBLICATION synchub");
  const slot = slotName();
  const run = await runSource(db.url, slot);
  try {
    const [pub] = await db.sql("SELECT pubname FROM pg_publication WHERE pubname = 'synchub'");
    assert.ok(pub, "publication created");
    const [s] = await db.sql("SELECT plugin FROM pg_replication_slots WHERE slot_name = $1", [
      slot,
    ]);
    assert.equal(s?.plugin, "pgoutput");
    await db.sql("INSERT INTO todos (title) VALUES ('x')");
    await run.waitForEnvelopes(1);
  } finally {
    await run.stop();
    await db.drop();
  }
});

Deno.test(
  "keepalives never confirm past a transaction that is not on the bus yet",
  opts,
  async () => {
    const db = await testDatabase();
    await db.sql("CREATE SCHEMA other; CREATE TABLE other.noise (n int)"); // not published
    const slot = slotName();
    let lookups = 0;
    const source = new WalSource({
      name: "pg",
      url: db.url,
      slot,
      publication: "synchub",
      publicationTables: undefined,
      bucketColumns: columnNamed("bucket"),
      log: silentLogger,
      statusIntervalMs: 100,
      // The first key lookup is slow: keepalives arrive while the transaction waits for it.
      primaryKey: async (client, relid) => {
        if (lookups++ === 0) await new Promise((r) => setTimeout(r, 2500));
        const { primaryKeyOf } = await import("../services/listener/postgres/setup.ts");
        return await primaryKeyOf(client, relid);
      },
    });
    const ac = new AbortController();
    const got: string[] = [];
    const running = (async () => {
      // Receives but never confirms: nothing reaches the bus.
      for await (const batch of source.stream(ac.signal)) {
        got.push(
          ...batch.envelopes.map((e) => e.id),
        );
      }
    })();
    try {
      await waitFor(() => source.ready(), "the stream");
      const [{ lsn }] = await db.sql<{ lsn: string }>(
        "INSERT INTO todos (title) VALUES ('unconfirmed') RETURNING pg_current_wal_insert_lsn()::text AS lsn",
      ) as [{ lsn: string }];
      const noise = setInterval(
        () => db.sql("INSERT INTO other.noise VALUES (1)").catch(() => {}),
        20,
      );
      await waitFor(() => got.length === 1, "the transaction after its slow key lookup");
      clearInterval(noise);
      await new Promise((r) => setTimeout(r, 300));
      const [s] = await db.sql<{ lsn: string }>(
        "SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1",
        [slot],
      );
      assert.ok(
        lsnValue(s!.lsn) < lsnValue(lsn),
        `slot confirmed ${s!.lsn}, past the unconfirmed change at ${lsn}`,
      );
    } finally {
      ac.abort();
      await running;
    }
    // And the change is still there for the next stream.
    const again = await runSource(db.url, slot);
    try {
      const [e] = await again.waitForEnvelopes(1);
      assert.equal(e!.after!.title, "unconfirmed");
    } finally {
      await again.stop();
      await db.drop();
    }
  },
);

function lsnValue(text: string): bigint {
  const [hi, lo] = text.split("/");
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

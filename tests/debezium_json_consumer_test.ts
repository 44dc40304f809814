/**
 * SPEC §11 with plain JSON (no schemas): a Kafka client of its own (kafkajs, not SyncHub's bus)
 * reads a SyncHub topic by Debezium's rules — the rules Flink's `debezium-json` applies: tombstones
 * are skipped, `op` is c, r, u or d and nothing else, updates and deletes carry `before` — and
 * finds Debezium's fields: source.connector/version/snapshot/ts_*, exact ts_ns, delete tombstones.
 */
import assert from "node:assert/strict";
import { Kafka, logLevel } from "kafkajs";
import { sharedBrokers } from "./support/kafka.ts";
import { startStack } from "./support/stack.ts";
import { waitFor } from "./support/wait.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

interface Read {
  key: string;
  value: string | null;
}

/** What a Debezium JSON consumer accepts, or throws on (Flink's DebeziumJsonDeserializationSchema). */
function debeziumRow(value: string) {
  const e = JSON.parse(value);
  if (!["c", "r", "u", "d"].includes(e.op)) throw new Error(`Unknown "op" value "${e.op}"`);
  if ((e.op === "u" || e.op === "d") && e.before === null) {
    throw new Error(`${e.op} without before (REPLICA IDENTITY FULL needed)`);
  }
  return e;
}

Deno.test("a plain Kafka client reads SyncHub topics by Debezium's rules", opts, async () => {
  const brokers = await sharedBrokers();
  const stack = await startStack({ kafka: brokers, listener: false });
  const consumer = new Kafka({
    clientId: "debezium-like",
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
  })
    .consumer({ groupId: `debezium-like-${crypto.randomUUID()}` });
  try {
    await stack.db.sql("INSERT INTO todos (bucket, title) VALUES ('a', 'before start')");
    stack.startListener();
    await waitFor(
      () => fetch(`${stack.listener.url}/ready`).then((r) => (r.body?.cancel(), r.ok)),
      "the listener",
    );
    const [row] = await stack.db.sql<{ id: string }>(
      "INSERT INTO todos (bucket, title) VALUES ('a', 'x') RETURNING id",
    );
    await stack.db.sql("UPDATE todos SET done = true WHERE id = $1", [row!.id]);
    await stack.db.sql("DELETE FROM todos WHERE id = $1", [row!.id]);
    await stack.db.sql("TRUNCATE todos");
    await stack.db.sql("INSERT INTO todos (bucket, title) VALUES ('a', 'after')");

    const read: Read[] = [];
    await consumer.connect();
    await consumer.subscribe({
      topics: [`${stack.config.topicPrefix}.pg.public.todos`],
      fromBeginning: true,
    });
    await consumer.run({
      eachMessage: ({ message }) => {
        read.push({ key: message.key!.toString(), value: message.value?.toString() ?? null });
        return Promise.resolve();
      },
    });
    await waitFor(
      () => read.some((r) => r.value?.includes('"after"') && r.value.includes('"title":"after"')),
      "the last change",
    );

    // Tombstones are skipped; everything else must be a row change a Debezium consumer takes.
    const changes = read.filter((r) => r.value !== null).map((r) => ({
      ...r,
      e: debeziumRow(r.value!),
    }));
    assert.deepEqual(changes.map((c) => c.e.op), ["r", "c", "u", "d", "c"]);
    for (const { e, value } of changes) {
      assert.equal(e.source.connector, "postgresql");
      assert.equal(typeof e.source.version, "string");
      assert.deepEqual([e.source.db, e.source.schema, e.source.table], [
        stack.db.name,
        "public",
        "todos",
      ]);
      for (const t of [e, e.source]) {
        assert.ok(Number.isInteger(t.ts_ms) && Number.isInteger(t.ts_us));
        assert.equal(Math.floor(t.ts_us / 1000), t.ts_ms);
      }
      // ts_ns passes 2^53: read from the text, it is exactly ts_us × 1000.
      const [, us, ns] = /"ts_us":(\d+),"ts_ns":(\d+)\}$/.exec(value!)!;
      assert.equal(BigInt(ns!), BigInt(us!) * 1000n);
    }
    assert.deepEqual(changes.map((c) => c.e.source.snapshot), [
      "last",
      "false",
      "false",
      "false",
      "false",
    ]);
    assert.equal(changes[3]!.e.before.id, row!.id);

    // The delete is followed by its tombstone; the truncate is a tombstone no row's key matches.
    const at = read.findIndex((r) => r.value !== null && debeziumRow(r.value).op === "d");
    assert.deepEqual(read[at + 1], { key: JSON.stringify({ id: row!.id }), value: null });
    assert.deepEqual(read[at + 2], { key: JSON.stringify({ id: null }), value: null });
  } finally {
    await consumer.disconnect();
    await stack.close();
  }
});

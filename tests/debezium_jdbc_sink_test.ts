/**
 * SPEC §11 proven by a real third-party consumer: Kafka Connect (Maven Central jars) runs
 * Debezium's own JDBC sink connector on a SyncHub topic written with KAFKA_ENVELOPE_SCHEMA=true,
 * and the sink's PostgreSQL table ends equal to the source after the initial snapshot, inserts,
 * updates and deletes (each followed by its tombstone). A truncate does not stop it. Meanwhile
 * WebSocket clients get the very envelopes they get without schemas.
 */
import assert from "node:assert/strict";
import { envelopeSchema } from "../lib/envelope.ts";
import { createLogger } from "../lib/log.ts";
import { loadConfig } from "../lib/config.ts";
import { debeziumJdbcPlugin, startConnectWorker } from "../tools/servers/kafka_connect.ts";
import { sharedBrokers } from "./support/kafka.ts";
import { testDatabase } from "./support/postgres.ts";
import { startStack } from "./support/stack.ts";
import { waitFor } from "./support/wait.ts";
import { TestClient } from "./support/ws_client.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const ROWS = "SELECT id, bucket, title, done, version, updated_at FROM todos ORDER BY id";

Deno.test("Debezium's JDBC sink ends with a copy of the source table", opts, async () => {
  const cacheDir = loadConfig().cacheDir;
  const log = createLogger("test-connect", "warn");
  const plugin = await debeziumJdbcPlugin(cacheDir, log);
  const stack = await startStack({
    kafka: await sharedBrokers(),
    listener: false,
    env: { KAFKA_ENVELOPE_SCHEMA: "true", SNAPSHOT_MODE: "initial" },
  });
  const target = await testDatabase();
  const dataDir = await Deno.makeTempDir({ prefix: "synchub-connect-" });
  const worker = await startConnectWorker({
    cacheDir,
    dataDir,
    brokers: await sharedBrokers(),
    plugins: [plugin],
    log,
  });
  const client = await TestClient.connect(stack.wsUrl, await stack.token(["a"]));
  try {
    // Rows from before the listener's first start reach the sink through the initial snapshot.
    await stack.db.sql(
      "INSERT INTO todos (bucket, title) SELECT 'a', 'seed ' || g FROM generate_series(1, 3) g",
    );
    stack.startListener();
    await waitFor(
      () => fetch(`${stack.listener.url}/ready`).then((r) => (r.body?.cancel(), r.ok)),
      "the listener",
    );
    const topic = `${stack.config.topicPrefix}.pg.public.todos`;
    await target.sql("CREATE TABLE todos_copy (LIKE public.todos INCLUDING ALL)");
    await worker.createConnector("synchub-jdbc", {
      "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
      "tasks.max": "1",
      topics: topic,
      "connection.url": jdbcUrl(target.url),
      "connection.username": new URL(target.url).username,
      "connection.password": decodeURIComponent(new URL(target.url).password),
      "insert.mode": "upsert",
      "delete.enabled": "true",
      "primary.key.mode": "record_key",
      "schema.evolution": "basic",
      "collection.name.format": "todos_copy",
      "use.time.zone": "UTC",
    });

    await client.subscribe("public.todos");
    const [made] = await stack.db.sql<{ id: string }>(
      "INSERT INTO todos (bucket, title) VALUES ('a', 'inserted'), ('a', 'doomed') RETURNING id",
    );
    await stack.db.sql("UPDATE todos SET done = true, version = version + 1 WHERE id = $1", [
      made!.id,
    ]);
    await stack.db.sql("UPDATE todos SET title = 'renamed' WHERE title = 'seed 2'");
    await stack.db.sql("DELETE FROM todos WHERE title IN ('doomed', 'seed 3')");

    const source = await stack.db.sql(ROWS);
    assert.equal(source.length, 3);
    await waitFor(
      async () => {
        const copy = await target.sql(ROWS.replace("todos", "todos_copy"));
        return JSON.stringify(copy) === JSON.stringify(source);
      },
      "the sink's table to equal the source",
      90_000,
    );

    // WebSocket clients read the same envelopes as without schemas.
    const changes = await client.changes(5);
    for (const c of changes) envelopeSchema.parse(c.change);
    assert.deepEqual(changes.map((c) => c.change.op), ["c", "c", "u", "u", "d"]);
    assert.equal(typeof changes[0]!.change.after!.done, "boolean");

    // A truncate (a tombstone keyed by nulls) leaves the sink running and applying what follows.
    await stack.db.sql("TRUNCATE todos");
    await stack.db.sql("INSERT INTO todos (bucket, title) VALUES ('a', 'after truncate')");
    // WebSocket clients still get the truncate, in its place, from the tombstone's header.
    const [, truncate, after] = await client.changes(3);
    assert.deepEqual([truncate!.change.op, truncate!.change.key], ["t", {}]);
    assert.equal(after!.change.after.title, "after truncate");
    await waitFor(
      async () => {
        const failed = (await worker.status("synchub-jdbc")).tasks.find((t) =>
          t.state === "FAILED"
        );
        if (failed) throw new Error(`the sink failed after the truncate:\n${failed.trace}`);
        const rows = await target.sql("SELECT 1 FROM todos_copy WHERE title = 'after truncate'");
        return rows.length === 1;
      },
      "the row written after the truncate",
      60_000,
    );
    const status = await worker.status("synchub-jdbc");
    assert.deepEqual(status.tasks.map((t) => t.state), ["RUNNING"]);
  } finally {
    await client.close();
    await worker.stop();
    await stack.close();
    await target.drop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});

/** `postgres://user@host:port/db` → `jdbc:postgresql://host:port/db`. */
function jdbcUrl(url: string): string {
  const u = new URL(url);
  return `jdbc:postgresql://${u.host}${u.pathname}`;
}

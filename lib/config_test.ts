import assert from "node:assert/strict";
import { ConfigError, loadConfig, VARIABLES } from "./config.ts";

Deno.test("defaults give a runnable local configuration", () => {
  const c = loadConfig([], {});
  assert.deepEqual(c.ports, { crud: 8000, gateway: 8080, listener: 8090 });
  assert.equal(c.databaseUrl, undefined);
  assert.equal(c.kafka, undefined);
  assert.equal(c.postgres.publication, "synchub");
  assert.equal(c.bucketColumn, "bucket");
  assert.equal(c.cursorRetentionMs, 24 * 3_600_000);
});

Deno.test("values are parsed and typed", () => {
  const c = loadConfig(["database", "jwt"], {
    DATABASE_URL: "postgres://u:p@db:5432/app",
    JWT_SECRET: "c2f1e7a9b04d8e6f3a5c7b9d1e2f4a6c",
    KAFKA_BROKERS: "k1:9092, k2:9092",
    CRUD_PORT: "9000",
    PUBLICATION_TABLES: "public.todos,app.notes",
    LOG_LEVEL: "debug",
  });
  assert.deepEqual(c.kafka, {
    brokers: ["k1:9092", "k2:9092"],
    topicPrefix: "synchub",
    partitions: 1,
  });
  assert.equal(c.ports.crud, 9000);
  assert.deepEqual(c.postgres.publicationTables, ["public.todos", "app.notes"]);
  assert.equal(c.logLevel, "debug");
});

Deno.test("every problem is reported at once", () => {
  try {
    loadConfig(["database", "jwt"], {
      CRUD_PORT: "eighty",
      KAFKA_BROKERS: "no-port",
      LOG_LEVEL: "loud",
      MYSQL_URL: "http://x",
    });
    assert.fail("expected a ConfigError");
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    const text = e.problems.join("\n");
    for (
      const name of [
        "CRUD_PORT",
        "KAFKA_BROKERS",
        "LOG_LEVEL",
        "MYSQL_URL",
        "DATABASE_URL",
        "JWT_SECRET",
      ]
    ) {
      assert.match(text, new RegExp(name), `${name} missing from:\n${text}`);
    }
  }
});

Deno.test("outside dev mode a weak JWT secret is refused; empty values count as unset", () => {
  const standalone = (secret?: string) =>
    loadConfig(["jwt"], secret === undefined ? {} : { JWT_SECRET: secret });
  assert.throws(() => standalone(), /JWT_SECRET: required outside dev mode/);
  assert.throws(() => standalone("short"), /JWT_SECRET: must be at least 32 bytes/);
  assert.throws(
    () => standalone("insecure-placeholder-set-JWT_SECRET-0000"),
    /JWT_SECRET: is a placeholder/,
  );
  assert.throws(
    () => standalone("change-me-to-32-or-more-random-characters"),
    /placeholder/,
  );
  assert.throws(() => standalone("a".repeat(40)), /not random enough/);
  assert.equal(standalone("c2f1e7a9b04d8e6f3a5c7b9d1e2f4a6c").jwtSecret?.length, 32);
  // Dev mode (no requirement): a weak secret is only warned about.
  assert.equal(loadConfig([], { JWT_SECRET: "short" }).jwtSecret, "short");
  assert.equal(loadConfig([], { DATABASE_URL: "  " }).databaseUrl, undefined);
});

Deno.test(".env.example lists exactly the variables the configuration reads", async () => {
  const text = await Deno.readTextFile(new URL("../.env.example", import.meta.url));
  const listed = new Set([...text.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
  assert.deepEqual([...listed].sort(), [...VARIABLES].sort());
});

Deno.test("sources: the simple variables and SOURCES, each with its own name", () => {
  const c = loadConfig([], {
    MYSQL_URL: "mysql://u:p@db:3306/app",
    MYSQL_TABLES: "app.orders, app.items",
    MONGODB_URL: "mongodb://m:27017/app?replicaSet=rs0",
    SOURCES: '[{"connector":"mysql","name":"shop","url":"mysql://u:p@shop:3306/shop"}]',
  });
  assert.deepEqual(c.sources.map((s) => [s.connector, s.name, s.tables, s.serverId]), [
    ["mysql", "mysql", ["app.orders", "app.items"], 5400],
    ["mongodb", "mongo", undefined, 0],
    ["mysql", "shop", undefined, 5401],
  ]);
  assert.throws(
    () => loadConfig([], { MYSQL_URL: "mysql://x/app", MYSQL_SOURCE_NAME: "pg" }),
    /"pg" is used twice/,
  );
  assert.throws(() => loadConfig([], { SOURCES: "[{" }), /SOURCES/);
  assert.throws(
    () => loadConfig([], { SOURCES: '[{"connector":"oracle","name":"x","url":"x://y"}]' }),
    /SOURCES/,
  );
});

Deno.test("checkpoints: cron pattern, retention as a count or an age, every problem at once", () => {
  const c = loadConfig([], { CHECKPOINT_CRON: "0 3 * * *", CHECKPOINT_BUCKETS: "a, b" });
  assert.deepEqual(c.checkpoints, {
    cron: "0 3 * * *",
    retention: { count: 7 },
    buckets: ["a", "b"],
  });
  assert.deepEqual(loadConfig([], { CHECKPOINT_RETENTION: "36h" }).checkpoints.retention, {
    ms: 36 * 3_600_000,
  });
  assert.deepEqual(loadConfig([], { CHECKPOINT_RETENTION: "2w" }).checkpoints.retention, {
    ms: 14 * 86_400_000,
  });
  assert.throws(
    () => loadConfig([], { CHECKPOINT_CRON: "61 * * * *", CHECKPOINT_RETENTION: "soon" }),
    (e: Error) => /CHECKPOINT_CRON/.test(e.message) && /CHECKPOINT_RETENTION/.test(e.message),
  );
});

Deno.test("KAFKA_CLIENT: kafkajs unless platformatic is named; anything else is refused", () => {
  assert.equal(loadConfig([], {}).kafkaClient, "kafkajs");
  assert.equal(loadConfig([], { KAFKA_CLIENT: "platformatic" }).kafkaClient, "platformatic");
  assert.throws(
    () => loadConfig([], { KAFKA_CLIENT: "rdkafka", KAFKA_PARTITIONS: "0" }),
    (e) =>
      e instanceof ConfigError && e.problems.some((p) => p.startsWith("KAFKA_CLIENT:")) &&
      e.problems.some((p) => p.startsWith("KAFKA_PARTITIONS:")),
  );
});

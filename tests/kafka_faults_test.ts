/**
 * Faults, with a Kafka broker of each test's own that it stops, kills and restarts: a broker down
 * at start, a broker gone mid-stream, a listener killed with SIGKILL mid-stream. Every change must
 * arrive; a repeat is allowed (at least once) and carries the same envelope id.
 */
import { accessPolicy } from "../lib/access_policy.ts";
import assert from "node:assert/strict";
import { KafkaBus } from "../lib/bus/kafka_bus.ts";
import { loadConfig } from "../lib/config.ts";
import { silentLogger } from "../lib/log.ts";
import { serveGateway } from "../services/gateway/service.ts";
import { serveListener } from "../services/listener/service.ts";
import { freePort, ownBroker, sharedBrokers } from "./support/kafka.ts";
import { testDatabase } from "./support/postgres.ts";
import { JWT_SECRET, startStack } from "./support/stack.ts";
import { waitFor } from "./support/wait.ts";
import { type Frame, TestClient } from "./support/ws_client.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** Checks every title arrived; a title seen twice must be the same change (same id). */
function assertAllOnce(frames: Frame[], titles: string[]) {
  const idOf = new Map<string, string>();
  for (const f of frames) {
    const title = f.change.after?.title;
    const seen = idOf.get(title);
    if (seen) assert.equal(f.change.id, seen, `"${title}" came twice as different changes`);
    idOf.set(title, f.change.id);
  }
  const missing = titles.filter((t) => !idOf.has(t));
  assert.deepEqual(missing, [], `${missing.length} changes lost`);
}

async function collectTitles(client: TestClient, titles: string[], what: string): Promise<Frame[]> {
  const frames: Frame[] = [];
  const wanted = new Set(titles);
  await waitFor(
    () => {
      for (const f of client.frames.splice(0)) {
        if (f.type !== "change") continue;
        frames.push(f);
        wanted.delete(f.change.after?.title);
      }
      return wanted.size === 0;
    },
    what,
    120_000,
  );
  return frames;
}

Deno.test(
  "Kafka down at start: services wait, /ready is false, nothing crashes; then they work",
  opts,
  async () => {
    const db = await testDatabase();
    const port = freePort(), controllerPort = freePort();
    const prefix = `f${crypto.randomUUID().slice(0, 8)}`;
    const config = loadConfig([], {
      LISTENER_PORT: "0",
      GATEWAY_PORT: "0",
      KAFKA_BROKERS: `127.0.0.1:${port}`,
      KAFKA_TOPIC_PREFIX: prefix,
      REPLICATION_SLOT: `s_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`,
      LOG_LEVEL: "error",
    });
    const bus = (service: string) =>
      new KafkaBus({
        brokers: [`127.0.0.1:${port}`],
        topicPrefix: prefix,
        clientId: service,
        partitions: 1,
        retentionMs: 3_600_000,
        log: silentLogger,
        topicRefreshMs: 500,
      });
    const listenerBus = bus("listener"), gatewayBus = bus("gateway");
    // The listener ran before (its slot exists): what is written while Kafka is down must arrive.
    await db.sql("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [
      config.postgres.slot,
    ]);
    const listener = serveListener({
      config,
      policy: accessPolicy(undefined, config.bucketColumn),
      databaseUrl: db.url,
      bus: listenerBus,
      log: silentLogger,
    });
    const gateway = await serveGateway({
      config,
      policy: accessPolicy(undefined, config.bucketColumn),
      jwtSecret: JWT_SECRET,
      bus: gatewayBus,
      log: silentLogger,
    });
    let broker: Awaited<ReturnType<typeof ownBroker>> | undefined;
    try {
      for (let i = 0; i < 10; i++) {
        for (const s of [listener, gateway]) {
          assert.equal((await fetch(`${s.url}/health`)).status, 200);
          const ready = await fetch(`${s.url}/ready`);
          assert.equal(ready.status, 503);
          await ready.body?.cancel();
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      await db.sql("INSERT INTO todos (title) VALUES ('written while Kafka was down')");

      broker = await ownBroker(undefined, port, controllerPort);
      for (const s of [listener, gateway]) {
        await waitFor(
          () => fetch(`${s.url}/ready`).then((r) => (r.body?.cancel(), r.ok)),
          `${s.url} ready`,
          90_000,
        );
      }
      const token = await (await import("../lib/jwt.ts")).signToken(JWT_SECRET, {
        sub: "t",
        buckets: ["*"],
      });
      const client = await TestClient.connect(`${gateway.url.replace(/^http/, "ws")}/v1/ws`, token);
      try {
        await client.subscribeWhenServed("public.todos");
        await db.sql("INSERT INTO todos (title) VALUES ('written after')");
        const frames = await collectTitles(
          client,
          ["written after"],
          "the change after Kafka came up",
        );
        assertAllOnce(frames, ["written after"]);
        // The change written while Kafka was down reached Kafka too.
        const topic = `${prefix}.pg.public.todos`;
        const { end } = await gatewayBus.range(topic);
        const values: string[] = [];
        for await (const b of gatewayBus.read(topic, [0], end)) {
          values.push(...b.map((r) => r.value!));
        }
        assert.ok(values.some((v) => v.includes("written while Kafka was down")));
      } finally {
        await client.close();
      }
    } finally {
      await gateway.stop();
      await listener.stop();
      await listenerBus.close();
      await gatewayBus.close();
      await broker?.stop();
      await broker?.remove();
      await db.drop();
    }
  },
);

Deno.test("Kafka stopped mid-stream and restarted: every change arrives", opts, async () => {
  const broker = await ownBroker();
  const stack = await startStack({ kafka: broker.brokers });
  const client = await TestClient.connect(stack.wsUrl, await stack.token(["*"]));
  const titles: string[] = [];
  try {
    await client.subscribeWhenServed("public.todos");
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const title = `row ${i}`;
        await stack.db.sql("INSERT INTO todos (title) VALUES ($1)", [title]);
        titles.push(title);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await new Promise((r) => setTimeout(r, 1000));
    await broker.stop();
    await new Promise((r) => setTimeout(r, 3000)); // rows keep coming while Kafka is away
    await broker.restart();
    await new Promise((r) => setTimeout(r, 1000));
    writing = false;
    await writer;
    assert.ok(titles.length > 100, `only ${titles.length} rows written`);
    assertAllOnce(
      await collectTitles(client, titles, "every row written across the outage"),
      titles,
    );
  } finally {
    await client.close();
    await stack.close();
    await broker.stop();
    await broker.remove();
  }
});

Deno.test("listener killed with SIGKILL mid-stream and restarted: nothing lost", opts, async () => {
  const brokers = await sharedBrokers();
  const stack = await startStack({ kafka: brokers, listener: false });
  const client = await TestClient.connect(stack.wsUrl, await stack.token(["*"]));
  const env = {
    DATABASE_URL: stack.db.url,
    KAFKA_BROKERS: brokers,
    KAFKA_TOPIC_PREFIX: stack.config.topicPrefix,
    REPLICATION_SLOT: stack.config.postgres.slot,
    LISTENER_PORT: String(freePort()),
    JWT_SECRET,
    LOG_LEVEL: "error",
  };
  const spawn = () =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../services/listener/main.ts", import.meta.url).pathname],
      env,
      stdin: "null",
      stdout: "null",
      stderr: "inherit",
    }).spawn();
  const readyUrl = `http://127.0.0.1:${env.LISTENER_PORT}/ready`;
  let listener = spawn();
  const titles: string[] = [];
  try {
    await waitFor(
      () => fetch(readyUrl).then((r) => (r.body?.cancel(), r.ok), () => false),
      "the listener process",
      60_000,
    );
    await client.subscribeWhenServed("public.todos");
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const title = `row ${i}`;
        await stack.db.sql(
          "INSERT INTO todos (title) SELECT $1 || '.' || g FROM generate_series(1, 5) g",
          [title],
        );
        for (let g = 1; g <= 5; g++) titles.push(`${title}.${g}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await new Promise((r) => setTimeout(r, 1500));
    listener.kill("SIGKILL");
    await listener.status;
    await new Promise((r) => setTimeout(r, 1000));
    listener = spawn();
    await new Promise((r) => setTimeout(r, 1500));
    writing = false;
    await writer;
    assertAllOnce(await collectTitles(client, titles, "every row across the kill"), titles);
  } finally {
    try {
      listener.kill("SIGKILL");
    } catch { /* gone */ }
    await listener.status;
    await client.close();
    await stack.close();
  }
});

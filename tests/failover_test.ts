/**
 * Listener failover and ordering under faults, with real processes and a real Kafka broker:
 * - two listeners for one source: one active, one standby; kill -9 the active one under load and
 *   the standby takes over with nothing lost (repeats carry the same id);
 * - Kafka stopped mid-stream while rows are inserted and updated: nothing lost, and a row's
 *   changes keep their order (version n+1 is never seen before version n).
 */
import assert from "node:assert/strict";
import { freePort, ownBroker, sharedBrokers } from "./support/kafka.ts";
import { JWT_SECRET, startStack } from "./support/stack.ts";
import { waitFor } from "./support/wait.ts";
import { type Frame, TestClient } from "./support/ws_client.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** Takes change frames until every wanted title has been seen; returns all frames taken. */
async function collect(client: TestClient, wanted: Set<string>, what: string): Promise<Frame[]> {
  const frames: Frame[] = [];
  const missing = new Set(wanted);
  await waitFor(
    () => {
      for (const f of client.frames.splice(0)) {
        if (f.type !== "change") continue;
        frames.push(f);
        missing.delete(f.change.after?.title);
      }
      return missing.size === 0;
    },
    `${what} (${missing.size} missing)`,
    120_000,
  );
  return frames;
}

/** Every title arrived; a title seen twice is the same change (same envelope id). */
function assertNothingLost(frames: Frame[], titles: Iterable<string>): void {
  const idOf = new Map<string, string>();
  for (const f of frames) {
    const key = `${f.change.after?.title}#${f.change.after?.version}`;
    const seen = idOf.get(key);
    if (seen) assert.equal(f.change.id, seen, `${key} came twice as different changes`);
    idOf.set(key, f.change.id);
  }
  const got = new Set(frames.map((f) => f.change.after?.title));
  const lost = [...titles].filter((t) => !got.has(t));
  assert.deepEqual(lost, [], `${lost.length} changes lost`);
}

Deno.test(
  "kill -9 of the active listener under load: the standby takes over, nothing lost",
  opts,
  async () => {
    const brokers = await sharedBrokers();
    const stack = await startStack({ kafka: brokers, listener: false });
    const client = await TestClient.connect(stack.wsUrl, await stack.token(["*"]));
    const ports = [freePort(), freePort()];
    const spawn = (port: number) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL("../services/listener/main.ts", import.meta.url).pathname],
        env: {
          DATABASE_URL: stack.db.url,
          KAFKA_BROKERS: brokers,
          KAFKA_TOPIC_PREFIX: stack.config.topicPrefix,
          REPLICATION_SLOT: stack.config.postgres.slot,
          LISTENER_PORT: String(port),
          JWT_SECRET,
          LOG_LEVEL: "error",
        },
        stdin: "null",
        stdout: "null",
        stderr: "inherit",
      }).spawn();
    const metric = async (port: number) => {
      const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => "");
      return /synchub_listener_active\{source="pg"\} (\d)/.exec(text)?.[1];
    };
    const active = spawn(ports[0]!);
    await waitFor(
      async () => (await metric(ports[0]!)) === "1",
      "the first listener to lead",
      60_000,
    );
    const standby = spawn(ports[1]!);
    const titles = new Set<string>();
    let writing = true;
    try {
      await waitFor(
        async () => (await metric(ports[1]!)) === "0",
        "the second to stand by",
        60_000,
      );
      // A standby is ready (it does its job) and says what it is.
      const ready = await waitFor(
        async () => {
          const r = await fetch(`http://127.0.0.1:${ports[1]}/ready`);
          const body = await r.json();
          return r.status === 200 ? body : undefined;
        },
        "the standby to be ready",
        30_000,
      );
      assert.deepEqual(ready.roles, { pg: "standby" });
      await client.subscribeWhenServed("public.todos");
      // About 2,000 rows a second: 20 rows every 10 ms.
      const writer = (async () => {
        for (let i = 0; writing; i++) {
          await stack.db.sql(
            "INSERT INTO todos (title) SELECT $1 || '.' || g FROM generate_series(1, 20) g",
            [`w${i}`],
          );
          for (let g = 1; g <= 20; g++) titles.add(`w${i}.${g}`);
          await new Promise((r) => setTimeout(r, 10));
        }
      })();
      await new Promise((r) => setTimeout(r, 2000));
      active.kill("SIGKILL");
      const killedAt = Date.now();
      await active.status;
      await waitFor(
        async () => (await metric(ports[1]!)) === "1",
        "the standby to take over",
        30_000,
      );
      const takeoverMs = Date.now() - killedAt;
      console.error(`takeover after kill -9: ${takeoverMs} ms`);
      await new Promise((r) => setTimeout(r, 2000));
      writing = false;
      await writer;
      assert.ok(titles.size > 2000, `only ${titles.size} rows written`);
      assertNothingLost(await collect(client, titles, "every row across the failover"), titles);
    } finally {
      writing = false;
      for (const p of [active, standby]) {
        try {
          p.kill("SIGKILL");
        } catch { /* gone */ }
        await p.status;
      }
      await client.close();
      await stack.close();
    }
  },
);

// kafkajs, the default client, under the test's historical name; then @platformatic/kafka.
for (const client of ["kafkajs", "platformatic"] as const) {
  Deno.test(
    `Kafka stopped mid-stream: nothing lost, and each row's versions arrive in order${
      client === "kafkajs" ? "" : ` (KAFKA_CLIENT=${client})`
    }`,
    opts,
    () => stoppedMidStream(client),
  );
}

async function stoppedMidStream(kafkaClient: "kafkajs" | "platformatic"): Promise<void> {
  const broker = await ownBroker();
  const stack = await startStack({ kafka: broker.brokers, env: { KAFKA_CLIENT: kafkaClient } });
  const client = await TestClient.connect(stack.wsUrl, await stack.token(["*"]));
  const titles = new Set<string>();
  let writing = true;
  try {
    await client.subscribeWhenServed("public.todos");
    // Each transaction inserts a row and updates it twice: versions 1, 2, 3 of one row.
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const title = `r${i}`;
        await stack.db.sql(`BEGIN;
            INSERT INTO todos (title) VALUES ('${title}');
            UPDATE todos SET done = true, version = version + 1 WHERE title = '${title}';
            UPDATE todos SET done = false, version = version + 1 WHERE title = '${title}';
            COMMIT`);
        titles.add(title);
        await new Promise((r) => setTimeout(r, 15));
      }
    })();
    await new Promise((r) => setTimeout(r, 1000));
    await broker.stop();
    await new Promise((r) => setTimeout(r, 4000)); // rows keep changing while Kafka is away
    await broker.restart();
    await new Promise((r) => setTimeout(r, 1500));
    writing = false;
    await writer;
    const frames = await collect(client, titles, "every row written across the outage");
    assertNothingLost(frames, titles);
    // Order per row: the first time each version is seen, it is after the one before it.
    const firstSeen = new Map<string, number[]>();
    for (const f of frames) {
      const t = f.change.after?.title;
      const seen = firstSeen.get(t) ?? [];
      if (!seen.includes(f.change.after.version)) seen.push(f.change.after.version);
      firstSeen.set(t, seen);
    }
    for (const [t, versions] of firstSeen) {
      assert.deepEqual(versions, [...versions].sort((a, b) => a - b), `row ${t}: ${versions}`);
    }
  } finally {
    writing = false;
    await client.close();
    await stack.close();
    await broker.stop();
    await broker.remove();
  }
}

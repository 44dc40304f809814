/** The Kafka bus against a real Apache Kafka broker: the shared bus contract, then Kafka's own. */
import assert from "node:assert/strict";
import type { BusRecord } from "../lib/bus/bus.ts";
import { SyncError } from "../lib/errors.ts";
import { busContract } from "./support/bus_contract.ts";
import { sharedBrokers, testKafkaBus } from "./support/kafka.ts";
import { waitFor } from "./support/wait.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const prefix = `c${crypto.randomUUID().replace(/-/g, "").slice(0, 10)}`;

busContract("kafka bus", {
  make: async () => {
    const bus = testKafkaBus(await sharedBrokers(), { prefix, partitions: 3 });
    await bus.connect();
    return bus;
  },
  topic: (name) => `${prefix}.${name}.${crypto.randomUUID().slice(0, 8)}`,
});

Deno.test("kafka bus: a follower picks up topics created after it started", opts, async () => {
  const bus = testKafkaBus(await sharedBrokers());
  const ac = new AbortController();
  try {
    const got: BusRecord[] = [];
    await bus.follow((records) => {
      got.push(...records);
    }, ac.signal);
    const topic = `${
      (bus as unknown as { opts: { topicPrefix: string } }).opts.topicPrefix
    }.late.table`;
    await bus.publish([{ topic, key: '{"id":1}', value: '{"n":1}' }]);
    await waitFor(() => got.length === 1, "the record of a topic created after following began");
    assert.equal(got[0]!.offset, 0);
    assert.equal(got[0]!.value, '{"n":1}');
  } finally {
    ac.abort();
    await bus.close();
  }
});

Deno.test("kafka bus: history cut by retention expires cursors into it", opts, async () => {
  const bus = testKafkaBus(await sharedBrokers());
  const { Kafka } = await import("kafkajs");
  const topic = `${
    (bus as unknown as { opts: { topicPrefix: string } }).opts.topicPrefix
  }.expiring`;
  const admin = new Kafka({ brokers: [await sharedBrokers()], logLevel: 0 }).admin();
  try {
    await bus.publish(
      Array.from({ length: 5 }, (_, n) => ({ topic, key: "k", value: `{"n":${n}}` })),
    );
    await admin.connect();
    await admin.fetchTopicMetadata({ topics: [topic] });
    // What retention does over time, at once: the log now starts at offset 3.
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: "3" }] });
    assert.deepEqual(await bus.range(topic), { start: [3], end: [5] });
    await assert.rejects(async () => {
      for await (const _ of bus.read(topic, [1], [5])) { /* none */ }
    }, (e) => e instanceof SyncError && e.code === "cursor_expired");
    const rest: BusRecord[] = [];
    for await (const batch of bus.read(topic, [3], [5])) rest.push(...batch);
    assert.deepEqual(rest.map((r) => r.offset), [3, 4]);
  } finally {
    await admin.disconnect();
    await bus.close();
  }
});

Deno.test("kafka bus: the epoch names the cluster", opts, async () => {
  const bus = testKafkaBus(await sharedBrokers());
  assert.throws(() => bus.epoch, SyncError, "unknown before connecting");
  await bus.connect();
  assert.match(bus.epoch, /^kafka:.{10,}$/);
  await bus.close();
});

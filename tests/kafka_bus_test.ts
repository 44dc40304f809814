/**
 * The Kafka bus against a real Apache Kafka broker: the shared bus contract, then Kafka's own.
 * The producing side runs with each client KAFKA_CLIENT names (kafkajs, the default, and
 * @platformatic/kafka); the rest of the bus is kafkajs either way.
 */
import assert from "node:assert/strict";
import { type BusMessage, type BusRecord, Channel } from "../lib/bus/bus.ts";
import type { KafkaClientName } from "../lib/config.ts";
import { SyncError } from "../lib/errors.ts";
import { busContract } from "./support/bus_contract.ts";
import { ownBroker, sharedBrokers, testKafkaBus } from "./support/kafka.ts";
import { waitFor } from "./support/wait.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const CLIENTS: KafkaClientName[] = ["kafkajs", "platformatic"];

for (const client of CLIENTS) {
  const prefix = `c${crypto.randomUUID().replace(/-/g, "").slice(0, 10)}`;
  busContract(`kafka bus (${client})`, {
    make: async () => {
      const bus = testKafkaBus(await sharedBrokers(), { prefix, partitions: 3, client });
      await bus.connect();
      return bus;
    },
    topic: (name) => `${prefix}.${name}.${crypto.randomUUID().slice(0, 8)}`,
  });

  Deno.test(`kafka bus (${client}): headers and null values come back as sent`, opts, async () => {
    const bus = testKafkaBus(await sharedBrokers(), { client });
    const topic = `${
      (bus as unknown as { opts: { topicPrefix: string } }).opts.topicPrefix
    }.headers`;
    try {
      const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
      await bus.publish([
        { topic, key: '{"id":1}', value: '{"n":1}', headers: { traceparent } },
        { topic, key: '{"id":1}', value: null },
        { topic, key: '{"id":"é"}', value: '{"text":"ü ✓"}' },
      ]);
      const got: BusRecord[] = [];
      for await (const batch of bus.read(topic, [0], [3])) got.push(...batch);
      assert.deepEqual(
        got.map((r) => [r.key, r.value, r.headers?.traceparent]),
        [
          ['{"id":1}', '{"n":1}', traceparent],
          ['{"id":1}', null, undefined],
          ['{"id":"é"}', '{"text":"ü ✓"}', undefined],
        ],
      );
    } finally {
      await bus.close();
    }
  });
}

Deno.test(
  "kafka bus: a key lands in the same partition whichever client wrote it",
  opts,
  async () => {
    const prefix = `p${crypto.randomUUID().replace(/-/g, "").slice(0, 10)}`;
    const topic = `${prefix}.partitions`;
    const brokers = await sharedBrokers();
    const keys = Array.from({ length: 24 }, (_, i) => JSON.stringify({ id: `row-${i}` }));
    const buses = CLIENTS.map((client) => testKafkaBus(brokers, { prefix, partitions: 5, client }));
    try {
      for (const [i, bus] of buses.entries()) {
        await bus.publish(keys.map((key) => ({ topic, key, value: `{"client":${i}}` })));
      }
      const { end } = await buses[0]!.range(topic);
      const partitionsOf = new Map<string, Set<number>>();
      for await (const batch of buses[0]!.read(topic, end.map(() => 0), end)) {
        for (const r of batch) {
          const seen = partitionsOf.get(r.key) ?? new Set();
          partitionsOf.set(r.key, seen.add(r.partition));
        }
      }
      assert.equal(partitionsOf.size, keys.length);
      for (const [key, partitions] of partitionsOf) {
        assert.equal(partitions.size, 1, `${key} went to partitions ${[...partitions]}`);
      }
      const used = new Set([...partitionsOf.values()].flatMap((p) => [...p]));
      assert.ok(used.size > 1, "24 keys over 5 partitions should not all hash to one");
    } finally {
      for (const bus of buses) await bus.close();
    }
  },
);

Deno.test(
  "kafka bus: broker stopped: the publish fails, its channel breaks, later publishes are refused unsent; a new channel works once it is back",
  opts,
  async () => {
    const broker = await ownBroker();
    try {
      for (const client of CLIENTS) {
        const bus = testKafkaBus(broker.brokers, { client });
        const topic = `${
          (bus as unknown as { opts: { topicPrefix: string } }).opts.topicPrefix
        }.faults`;
        const msg = (n: number): BusMessage => ({ topic, key: '{"id":1}', value: `{"n":${n}}` });
        try {
          const channel = new Channel();
          await bus.publish([msg(1)], channel);
          await broker.stop();
          await assert.rejects(
            bus.publish([msg(2)], channel),
            (e) => e instanceof SyncError && e.code === "unavailable",
            `${client}: a publish to a stopped broker`,
          );
          assert.ok(channel.failure instanceof SyncError, `${client}: the channel broke`);
          await broker.restart();
          await assert.rejects(bus.publish([msg(3)], channel), (e) => e === channel.failure);
          await bus.publish([msg(4)], new Channel());
          const { end } = await bus.range(topic);
          const values: string[] = [];
          for await (const batch of bus.read(topic, [0], end)) {
            values.push(...batch.map((r) => r.value!));
          }
          // n=3 was never sent; n=2 failed (it may or may not have been written before the stop).
          assert.ok(!values.includes('{"n":3}'), `${client}: ${values}`);
          assert.equal(values[0], '{"n":1}');
          assert.equal(values.at(-1), '{"n":4}', `${client}: ${values}`);
        } finally {
          await bus.close();
        }
      }
    } finally {
      await broker.stop();
      await broker.remove();
    }
  },
);

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

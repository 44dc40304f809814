/**
 * The behaviour every bus must show. Each implementation's test file calls `busContract` with a
 * factory; the same assertions then run against the in-process bus and against Kafka.
 */
import assert from "node:assert/strict";
import type { Bus, BusMessage, BusRecord } from "../../lib/bus/bus.ts";
import { SyncError } from "../../lib/errors.ts";

export interface BusFactory {
  /** A fresh bus on which no topic of a previous test is visible. */
  make(): Promise<Bus>;
  /** A topic name unique to this run. */
  topic(name: string): string;
}

const opts = { sanitizeOps: false, sanitizeResources: false };

function msg(topic: string, key: string, n: number): BusMessage {
  return { topic, key: JSON.stringify({ id: key }), value: JSON.stringify({ id: key, n }) };
}

async function collect(bus: Bus, count: number, signal: AbortSignal) {
  const got: BusRecord[] = [];
  let done!: () => void;
  const enough = new Promise<void>((r) => done = r);
  const start = await bus.follow((records) => {
    got.push(...records);
    if (got.length >= count) done();
  }, signal);
  return { got, start, enough };
}

export function busContract(name: string, factory: BusFactory) {
  Deno.test(
    `${name}: follow delivers what is published afterwards, in order per key`,
    opts,
    async () => {
      const bus = await factory.make();
      const topic = factory.topic("order");
      const ac = new AbortController();
      try {
        await bus.publish([msg(topic, "before", 0)]);
        const { got, start, enough } = await collect(bus, 200, ac.signal);
        const messages = Array.from({ length: 200 }, (_, i) => msg(topic, `k${i % 7}`, i));
        for (let i = 0; i < messages.length; i += 50) await bus.publish(messages.slice(i, i + 50));
        await enough;
        const mine = got.filter((r) => r.topic === topic);
        assert.equal(mine.length, 200);
        assert.ok(
          !mine.some((r) => r.value!.includes('"before"')),
          "record before follow delivered",
        );
        for (let k = 0; k < 7; k++) {
          const ns = mine.filter((r) => r.key === JSON.stringify({ id: `k${k}` }))
            .map((r) => JSON.parse(r.value!).n);
          assert.deepEqual(ns, [...ns].sort((a, b) => a - b), `key k${k} out of order`);
        }
        for (const r of mine) {
          const from = start.get(topic)?.[r.partition] ?? 0;
          assert.ok(r.offset >= from, "record older than the follow start");
        }
      } finally {
        ac.abort();
        await bus.close();
      }
    },
  );

  Deno.test(`${name}: read returns exactly the records between two offsets`, opts, async () => {
    const bus = await factory.make();
    const topic = factory.topic("read");
    try {
      await bus.publish(Array.from({ length: 30 }, (_, i) => msg(topic, "same", i)));
      const { start, end } = await bus.range(topic);
      const partition = end.findIndex((o, p) => o - (start[p] ?? 0) === 30);
      assert.ok(partition >= 0, `one key lands in one partition: ${start} .. ${end}`);
      const from = [...end].map((o, p) => (p === partition ? o - 20 : o));
      const to = [...end].map((o, p) => (p === partition ? o - 5 : o));
      const read: BusRecord[] = [];
      for await (const batch of bus.read(topic, from, to)) read.push(...batch);
      assert.deepEqual(
        read.map((r) => JSON.parse(r.value!).n),
        Array.from({ length: 15 }, (_, i) => i + 10),
      );
      assert.deepEqual(read.map((r) => r.offset), read.map((_, i) => from[partition]! + i));
    } finally {
      await bus.close();
    }
  });

  Deno.test(`${name}: a closed bus refuses to publish`, opts, async () => {
    const bus = await factory.make();
    await bus.close();
    assert.equal(bus.ready(), false);
    await assert.rejects(bus.publish([msg(factory.topic("closed"), "a", 1)]), SyncError);
  });
}

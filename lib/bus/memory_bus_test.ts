import assert from "node:assert/strict";
import { busContract } from "../../tests/support/bus_contract.ts";
import { sampleEnvelope } from "../../tests/support/envelopes.ts";
import { SyncError } from "../errors.ts";
import type { BusMessage, BusRecord } from "./bus.ts";
import { MemoryBus } from "./memory_bus.ts";

busContract("memory bus", {
  make: () => Promise.resolve(new MemoryBus({ retentionMs: 60_000, maxBytes: 1 << 24 })),
  topic: (name) => `t.${name}`,
});

const m = (n: number): BusMessage => ({ topic: "t", key: "k", value: `{"n":${n}}` });

async function readAll(bus: MemoryBus, from: number, to: number) {
  const out: BusRecord[] = [];
  for await (const batch of bus.read("t", [from], [to])) out.push(...batch);
  return out;
}

Deno.test("retention by time drops old records and expires cursors into them", async () => {
  let now = 0;
  const bus = new MemoryBus({ retentionMs: 1000, maxBytes: 1 << 20, now: () => now });
  await bus.publish([m(0), m(1)]);
  now = 1500;
  await bus.publish([m(2)]);
  assert.deepEqual(await bus.range("t"), { start: [2], end: [3] });
  await assert.rejects(
    readAll(bus, 0, 3),
    (e) => e instanceof SyncError && e.code === "cursor_expired",
  );
  assert.deepEqual((await readAll(bus, 2, 3)).map((r) => r.value), ['{"n":2}']);
});

Deno.test("the byte budget evicts the oldest records first, across topics", async () => {
  const bus = new MemoryBus({ retentionMs: 60_000, maxBytes: 100 });
  for (let i = 0; i < 20; i++) await bus.publish([m(i)]);
  assert.ok(bus.retainedBytes() <= 100);
  const { start, end } = await bus.range("t");
  assert.equal(end[0], 20);
  assert.ok(start[0]! > 0);
  const kept = await readAll(bus, start[0]!, 20);
  assert.equal(kept.at(-1)?.value, '{"n":19}');
  assert.equal(kept.length, 20 - start[0]!);
});

Deno.test("a large log is compacted without losing offsets", async () => {
  const bus = new MemoryBus({ retentionMs: 60_000, maxBytes: 20_000 });
  for (let i = 0; i < 5000; i++) await bus.publish([m(i)]);
  const { start } = await bus.range("t");
  const kept = await readAll(bus, start[0]!, 5000);
  assert.deepEqual(kept.map((r) => r.offset), kept.map((_, i) => start[0]! + i));
  assert.equal(JSON.parse(kept[0]!.value!).n, start[0]);
});

Deno.test("records carry the parsed envelope when the producer passed one", async () => {
  const bus = new MemoryBus({ retentionMs: 60_000, maxBytes: 1 << 20 });
  const ac = new AbortController();
  const got: BusRecord[] = [];
  await bus.follow((r) => {
    got.push(...r);
  }, ac.signal);
  const envelope = sampleEnvelope();
  await bus.publish([{ ...m(1), envelope }]);
  await new Promise((r) => setTimeout(r, 0));
  ac.abort();
  assert.equal(got[0]?.envelope, envelope);
});

Deno.test("a follower's backpressure holds its next batches and the publisher", async () => {
  const bus = new MemoryBus({ retentionMs: 60_000, maxBytes: 1 << 20 });
  const ac = new AbortController();
  const seen: string[] = [];
  let release!: () => void;
  await bus.follow((records) => {
    seen.push(...records.map((r) => r.value!));
    return seen.length === 1 ? new Promise<void>((r) => release = r) : undefined;
  }, ac.signal);
  let firstDone = false, secondDone = false;
  const first = bus.publish([m(1)]).then(() => firstDone = true);
  const second = bus.publish([m(2)]).then(() => secondDone = true);
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(seen, ['{"n":1}'], "the second batch waits for the first to be taken");
  assert.equal(firstDone || secondDone, false, "publishers wait for the follower");
  release();
  await Promise.all([first, second]);
  assert.deepEqual(seen, ['{"n":1}', '{"n":2}']);
  ac.abort();
});

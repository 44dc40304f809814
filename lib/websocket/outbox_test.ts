import assert from "node:assert/strict";
import { type ByteSink, FlushScheduler, Outbox } from "./outbox.ts";

/** A sink that records each write and takes at most `limit` bytes of it. */
class Recorder implements ByteSink {
  writes: Uint8Array[] = [];
  fail: Error | undefined;
  constructor(private readonly limit = Infinity) {}
  write(p: Uint8Array): Promise<number> {
    if (this.fail) return Promise.reject(this.fail);
    const n = Math.min(p.length, this.limit);
    this.writes.push(p.slice(0, n));
    return Promise.resolve(n);
  }
  get bytes(): number[] {
    return this.writes.flatMap((w) => [...w]);
  }
}

function outbox(sink: ByteSink) {
  const events: string[] = [];
  const box = new Outbox(sink, new FlushScheduler(), {
    drained: () => events.push("drained"),
    writeFailed: (err) => events.push(`failed: ${(err as Error).message}`),
  });
  return { box, events };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("frames queued in one tick go out in one write, in order", async () => {
  const sink = new Recorder();
  const { box, events } = outbox(sink);
  box.push(new Uint8Array([1, 2]));
  box.push(new Uint8Array([3]));
  box.push(new Uint8Array([4, 5, 6]));
  assert.equal(box.bytes, 6);
  assert.equal(sink.writes.length, 0); // nothing written synchronously
  await tick();
  assert.deepEqual(sink.writes.map((w) => [...w]), [[1, 2, 3, 4, 5, 6]]);
  assert.equal(box.bytes, 0);
  assert.equal(box.idle, true);
  assert.deepEqual(events, ["drained"]);
});

Deno.test("a lone frame is written as it is: fan-out shares its bytes", async () => {
  const seen: Uint8Array[] = [];
  const sink: ByteSink = { write: (p) => (seen.push(p), Promise.resolve(p.length)) };
  const frame = new Uint8Array([9, 9, 9]);
  const scheduler = new FlushScheduler();
  const owner = { drained() {}, writeFailed() {} };
  const boxes = Array.from({ length: 3 }, () => new Outbox(sink, scheduler, owner));
  for (const b of boxes) b.push(frame);
  await tick();
  assert.equal(seen.length, 3);
  assert.ok(seen.every((p) => p === frame));
});

Deno.test("partial writes: bufferedAmount falls as the kernel takes bytes, nothing is lost", async () => {
  const sink = new Recorder(4);
  const { box, events } = outbox(sink);
  const data = Array.from({ length: 10 }, (_, i) => new Uint8Array(7).fill(i));
  for (const d of data) box.push(d);
  assert.equal(box.bytes, 70);
  await tick();
  await tick();
  assert.deepEqual(sink.bytes, data.flatMap((d) => [...d]));
  assert.ok(sink.writes.every((w) => w.length <= 4));
  assert.equal(box.bytes, 0);
  assert.deepEqual(events, ["drained"]);
});

Deno.test("frames queued during a write go in the next one", async () => {
  let release: (n: number) => void = () => {};
  const writes: number[][] = [];
  const sink: ByteSink = {
    write: (p) => {
      writes.push([...p]);
      return new Promise((r) => release = () => r(p.length));
    },
  };
  const { box } = outbox(sink);
  box.push(new Uint8Array([1]));
  await tick();
  box.push(new Uint8Array([2]));
  box.push(new Uint8Array([3]));
  await tick();
  assert.deepEqual(writes, [[1]]); // the first write is still in flight
  assert.equal(box.bytes, 3);
  release(1);
  await tick();
  assert.deepEqual(writes, [[1], [2, 3]]);
  release(2);
  await tick();
  assert.equal(box.bytes, 0);
});

Deno.test("a failed write reports once and drops what was queued", async () => {
  const sink = new Recorder();
  sink.fail = new Error("broken pipe");
  const { box, events } = outbox(sink);
  box.push(new Uint8Array(10));
  await tick();
  assert.deepEqual(events, ["failed: broken pipe"]);
  assert.equal(box.bytes, 0);
});

Deno.test("a long queue is written in batches of bounded size", async () => {
  const sink = new Recorder();
  const { box } = outbox(sink);
  const frame = new Uint8Array(1000).fill(1);
  for (let i = 0; i < 2000; i++) box.push(frame); // 2 MB
  await tick();
  for (let i = 0; i < 20; i++) await tick();
  assert.equal(sink.bytes.length, 2_000_000);
  assert.ok(sink.writes.length >= 8);
  assert.ok(sink.writes.every((w) => w.length <= 256 * 1024));
});

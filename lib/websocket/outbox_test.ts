import assert from "node:assert/strict";
import { type ByteSink, FlushScheduler, Outbox } from "./outbox.ts";

/** A sink that records each write; the kernel "takes" it when `release` is called. */
class Recorder implements ByteSink {
  writes: Uint8Array[] = [];
  fail: Error | undefined;
  auto = true;
  private pending: (() => void)[] = [];
  write(p: Uint8Array, done: (err?: unknown) => void): void {
    this.writes.push(p.slice());
    const finish = () => this.fail ? done(this.fail) : done();
    if (this.auto) queueMicrotask(finish);
    else this.pending.push(finish);
  }
  release(): void {
    for (const f of this.pending.splice(0)) f();
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
  const sink: ByteSink = { write: (p, done) => (seen.push(p), queueMicrotask(done)) };
  const frame = new Uint8Array([9, 9, 9]);
  const scheduler = new FlushScheduler();
  const owner = { drained() {}, writeFailed() {} };
  const boxes = Array.from({ length: 3 }, () => new Outbox(sink, scheduler, owner));
  for (const b of boxes) b.push(frame);
  await tick();
  assert.equal(seen.length, 3);
  assert.ok(seen.every((p) => p === frame));
});

Deno.test("bufferedAmount holds until the kernel takes a write; frames queued meanwhile wait", async () => {
  const sink = new Recorder();
  sink.auto = false;
  const { box, events } = outbox(sink);
  box.push(new Uint8Array([1]));
  await tick();
  box.push(new Uint8Array([2]));
  box.push(new Uint8Array([3]));
  await tick();
  assert.deepEqual(sink.writes.map((w) => [...w]), [[1]]); // the first write is in flight
  assert.equal(box.bytes, 3);
  sink.release();
  await tick();
  assert.deepEqual(sink.writes.map((w) => [...w]), [[1], [2, 3]]);
  assert.equal(box.bytes, 2);
  assert.deepEqual(events, []);
  sink.release();
  await tick();
  assert.equal(box.bytes, 0);
  assert.deepEqual(events, ["drained"]);
});

Deno.test("a failed write reports once and drops what was queued", async () => {
  const sink = new Recorder();
  sink.fail = new Error("broken pipe");
  const { box, events } = outbox(sink);
  box.push(new Uint8Array(10));
  await tick();
  box.push(new Uint8Array(10)); // queued after the failure: the owner has closed by now
  assert.deepEqual(events, ["failed: broken pipe"]);
});

Deno.test("a long queue is written in batches of bounded size", async () => {
  const sink = new Recorder();
  const { box } = outbox(sink);
  const frame = new Uint8Array(1000).fill(1);
  for (let i = 0; i < 2000; i++) box.push(frame); // 2 MB
  for (let i = 0; i < 20; i++) await tick();
  assert.equal(sink.bytes.length, 2_000_000);
  assert.ok(sink.writes.length >= 8);
  assert.ok(sink.writes.every((w) => w.length <= 256 * 1024));
  assert.equal(box.bytes, 0);
});

import assert from "node:assert/strict";
import { encodeTextFrame } from "./frame.ts";
import { type ByteSink, FlushScheduler, Outbox } from "./outbox.ts";

/** A sink that records each write; the kernel "takes" it when `release` is called. */
class Recorder implements ByteSink {
  writes: Uint8Array[] = [];
  fail: Error | undefined;
  auto = true;
  private pending: (() => void)[] = [];
  write(p: Uint8Array, done: (err?: unknown) => void): void {
    // The bytes are read when the kernel takes them: a buffer reused too early would show.
    const at = this.writes.length;
    this.writes.push(p);
    const finish = () => {
      this.writes[at] = p.slice();
      this.fail ? done(this.fail) : done();
    };
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

Deno.test("text frames are encoded in place, between shared frames, in order", async () => {
  const sink = new Recorder();
  const { box } = outbox(sink);
  const shared = encodeTextFrame("shared");
  box.pushText('{"a":', '"zoë 😀"', "}");
  box.pushText("x".repeat(200)); // a 16-bit length
  box.push(shared);
  box.pushText("", "y".repeat(70_000), ""); // a 64-bit length, larger than a pooled buffer
  box.pushText("last");
  const expected = [
    encodeTextFrame('{"a":"zoë 😀"}'),
    encodeTextFrame("x".repeat(200)),
    shared,
    encodeTextFrame("y".repeat(70_000)),
    encodeTextFrame("last"),
  ].flatMap((f) => [...f]);
  assert.equal(box.bytes, expected.length);
  for (let i = 0; i < 5; i++) await tick();
  assert.deepEqual(sink.bytes, expected);
  assert.equal(box.bytes, 0);
});

Deno.test("text queued while a write is in flight goes out next, intact", async () => {
  const sink = new Recorder();
  sink.auto = false;
  const { box } = outbox(sink);
  for (let i = 0; i < 3000; i++) box.pushText(`{"n":`, String(i), "}"); // fills pooled buffers
  await tick();
  for (let i = 3000; i < 6000; i++) box.pushText(`{"n":`, String(i), "}");
  for (let round = 0; round < 10; round++) {
    sink.release();
    await tick();
  }
  const expected = Array.from({ length: 6000 }, (_, i) => encodeTextFrame(`{"n":${i}}`))
    .flatMap((f) => [...f]);
  assert.deepEqual(sink.bytes, expected);
});

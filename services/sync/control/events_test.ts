import assert from "node:assert/strict";
import { EventHub } from "./events.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function readFrames(stream: ReadableStream<Uint8Array>, count: number): Promise<string[]> {
  const reader = stream.getReader();
  const frames: string[] = [];
  let buf = "";
  while (frames.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += text(value);
    let at;
    while ((at = buf.indexOf("\n\n")) >= 0) {
      frames.push(buf.slice(0, at));
      buf = buf.slice(at + 2);
    }
  }
  reader.releaseLock();
  return frames;
}

Deno.test("events: a new viewer gets a retry hint and a status snapshot carrying the last id", async () => {
  const hub = new EventHub({ snapshot: () => ({ state: "idle" }) });
  hub.publish("progress", { n: 1 });
  const frames = await readFrames(hub.open(null), 2);
  assert.equal(frames[0], "retry: 2000");
  assert.equal(frames[1], `id: ${hub.lastId}\nevent: status\ndata: {"state":"idle"}`);
  hub.close();
});

Deno.test("events: Last-Event-ID replays exactly what followed it, then live events", async () => {
  const hub = new EventHub({ snapshot: () => ({}) });
  const first = hub.publish("status", { a: 1 });
  hub.publish("progress", { a: 2 });
  hub.publish("completed", { a: 3 });
  const stream = hub.open(first.id);
  hub.publish("failed", { a: 4 });
  const frames = await readFrames(stream, 4);
  assert.deepEqual(
    frames.slice(1).map((f) => f.split("\n")[1]),
    ["event: progress", "event: completed", "event: failed"],
  );
  hub.close();
});

Deno.test("events: an id from another boot or older than the ring is a gap", () => {
  const hub = new EventHub({ snapshot: () => ({}), capacity: 8 });
  const first = hub.publish("progress", {});
  for (let i = 0; i < 20; i++) hub.publish("progress", { i });
  assert.equal(hub.replayAfter(first.id), "gap");
  assert.equal(hub.replayAfter("zzz.1"), "gap");
  assert.equal(hub.replayAfter("garbage"), "gap");
  const last = hub.replayAfter(`${hub.boot}.19`);
  assert.ok(Array.isArray(last) && last.length === 2);
  assert.deepEqual(hub.replayAfter(hub.lastId), []);
  hub.close();
});

Deno.test("events: a viewer that does not read is dropped; the others keep receiving", async () => {
  let dropped = 0;
  const hub = new EventHub({
    snapshot: () => ({}),
    viewerQueueBytes: 512,
    onViewerDropped: () => dropped++,
  });
  const slow = hub.open(null); // never read
  const fast = hub.open(null);
  const reader = fast.getReader();
  await reader.read();
  await reader.read(); // retry + snapshot
  for (let i = 0; i < 50; i++) {
    hub.publish("progress", { i, pad: "x".repeat(40) });
    await reader.read();
  }
  assert.equal(dropped, 1);
  assert.equal(hub.viewers, 1);
  await assert.rejects(slow.getReader().read());
  hub.close();
  assert.equal((await reader.read()).done, true);
});

Deno.test("events: heartbeat comments reach an idle viewer", async () => {
  const hub = new EventHub({ snapshot: () => ({}), heartbeatMs: 20 });
  // The hub's timer does not keep a process alive (a server does): this one does.
  const keepAlive = setTimeout(() => {}, 10_000);
  const frames = await readFrames(hub.open(null), 3);
  clearTimeout(keepAlive);
  assert.equal(frames[2], ": heartbeat");
  hub.close();
});

Deno.test("events: a thousand viewers share one encoded frame per event", async () => {
  const hub = new EventHub({ snapshot: () => ({}) });
  const readers = Array.from({ length: 1000 }, () => hub.open(null).getReader());
  for (const r of readers) {
    await r.read();
    await r.read(); // retry hint, snapshot
  }
  assert.equal(hub.viewers, 1000);
  const event = hub.publish("progress", { percent: 50 });
  for (const r of readers) assert.equal((await r.read()).value, event.frame);
  hub.close();
  for (const r of readers) assert.equal((await r.read()).done, true);
  assert.equal(hub.viewers, 0);
});

Deno.test("forward hears every event published, with its data", () => {
  const heard: [string, unknown][] = [];
  const hub = new EventHub({
    snapshot: () => ({}),
    forward: (type, data) => heard.push([type, data]),
  });
  hub.publish("completed", { id: "r1" });
  hub.publish("failed", { id: "r2" });
  assert.deepEqual(heard, [["completed", { id: "r1" }], ["failed", { id: "r2" }]]);
});

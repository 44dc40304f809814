import assert from "node:assert/strict";
import { MemoryBus } from "./bus/memory_bus.ts";
import { HubEvents, parseEvent, withoutSecrets } from "./events.ts";
import { silentLogger } from "./log.ts";
import { eventTopic } from "./topics.ts";

Deno.test("an event goes to its type's topic as {id, type, ts_ms, data}", async () => {
  const bus = new MemoryBus({ retentionMs: 60_000, maxBytes: 1 << 20 });
  const events = new HubEvents(bus, "hub", silentLogger);
  const sent = await events.emit("bucket.assigned", { user_id: "u1", bucket: "team" });
  const topic = eventTopic("hub", "bucket.assigned");
  assert.equal(topic, "hub.events.bucket_assigned");
  const records = [];
  for await (const batch of bus.read(topic, [0], [10])) records.push(...batch);
  assert.equal(records.length, 1);
  const event = parseEvent(records[0]!.value);
  assert.deepEqual(event, sent);
  assert.deepEqual(event?.data, { user_id: "u1", bucket: "team" });
  assert.equal(event?.type, "bucket.assigned");
});

Deno.test("secrets never reach an event, at any depth", async () => {
  assert.deepEqual(
    withoutSecrets({ a: 1, password: "x", nested: [{ Email: "a@b", token: "t", ok: true }] }),
    { a: 1, nested: [{ ok: true }] },
  );
  const bus = new MemoryBus({ retentionMs: 60_000, maxBytes: 1 << 20 });
  const run = await new HubEvents(bus, "hub", silentLogger).syncRun("failed", {
    id: "run-1",
    error: "boom",
    target: { url: "postgres://x", password: "hunter2" },
  });
  assert.equal(run.type, "sync.failed");
  assert.deepEqual(run.data, { id: "run-1", error: "boom", target: { url: "postgres://x" } });
});

Deno.test("a bus that refuses an event does not fail the caller", async () => {
  const broken = new MemoryBus({ retentionMs: 60_000, maxBytes: 1 << 20 });
  await broken.close(); // a closed bus refuses every publish
  const events = new HubEvents(broken, "hub", silentLogger);
  const e = await events.emit("user.created", { user_id: "u" });
  assert.equal(e.data.user_id, "u");
  assert.equal(events.failed, 1);
  assert.equal(parseEvent("not json"), undefined);
  assert.equal(
    parseEvent(JSON.stringify({ id: "x", type: "other", ts_ms: 1, data: {} })),
    undefined,
  );
});

import { textOfFrame } from "../../lib/websocket/mod.ts";
import assert from "node:assert/strict";
import { type BusRecord, messageFor } from "../../lib/bus/bus.ts";
import { MemoryBus } from "../../lib/bus/memory_bus.ts";
import { principalOf, readScope } from "../../lib/access.ts";
import { accessPolicy } from "../../lib/access_policy.ts";
import { decodeCursor } from "../../lib/cursor.ts";
import type { Envelope } from "../../lib/envelope.ts";
import type { SnapshotReader } from "../../lib/snapshot.ts";
import { sampleEnvelope } from "../../tests/support/envelopes.ts";
import { tableInfo } from "../../tests/support/tables.ts";
import { compileWhere } from "./filter.ts";
import { type FrameCache, Subscription, type SubscriptionInit } from "./subscription.ts";

const todos = tableInfo("public.todos", { id: "string", bucket: "string", title: "string" });
const TOPIC = "synchub.pg.public.todos";
const rule = accessPolicy(undefined, "bucket").rule(todos);
const view = { scope: readScope(principalOf({ sub: "u", buckets: ["b1"] }), rule)!, rule };

function change(n: number, over: Partial<Envelope> = {}): Envelope {
  const base = sampleEnvelope();
  return sampleEnvelope({
    id: `pg:${n}`,
    after: { id: `r${n}`, title: `t${n}`, bucket: "b1" },
    key: { id: `r${n}` },
    source: { ...base.source, txId: String(100 + n), position: String(n).padStart(8, "0") },
    ...over,
  });
}

function record(offset: number, e: Envelope): BusRecord {
  const m = messageFor("synchub", e);
  return { ...m, partition: 0, offset, timestamp: 0 };
}

function subscription(over: Partial<SubscriptionInit> = {}) {
  const sent: { frame: ReturnType<typeof JSON.parse>; text: string }[] = [];
  let overflowed = 0;
  const sub = new Subscription({
    id: "s1",
    epoch: "e1",
    topic: TOPIC,
    table: todos,
    filter: [],
    view,
    from: [0],
    live: [0],
    buffered: false,
    maxBufferedBytes: 1 << 20,
    send: (frame) => {
      const text = typeof frame === "string" ? frame : textOfFrame(frame);
      sent.push({ frame: JSON.parse(text), text });
    },
    sendChange: (head, body) => {
      const text = `${head}${body}}`;
      sent.push({ frame: JSON.parse(text), text });
    },
    overflow: () => overflowed++,
    ...over,
  });
  return { sub, sent, overflowed: () => overflowed };
}

const titles = (sent: { frame: { change?: Envelope } }[]) =>
  sent.flatMap((s) => s.frame.change ? [s.frame.change.after?.title ?? s.frame.change.op] : []);

Deno.test("live records are sent once each, with the shared cursor, in offset order", () => {
  const { sub, sent } = subscription();
  sub.receive(record(0, change(0)), change(0), "cursor-1");
  sub.receive(record(0, change(0)), change(0), "cursor-1"); // a repeat: already handled
  sub.receive(record(1, change(1)), change(1), "cursor-2");
  assert.deepEqual(titles(sent), ["t0", "t1"]);
  assert.deepEqual(sent.map((s) => s.frame.cursor), ["cursor-1", "cursor-2"]);
  assert.deepEqual(sub.next, [2]);
});

Deno.test("the bucket check and the filter decide; a row leaving the view is moved_out", () => {
  const { sub, sent } = subscription({ filter: compileWhere({ title: { neq: "hidden" } }, todos) });
  sub.receive(record(0, change(0)), change(0), "c");
  const foreign = change(1, { after: { id: "r1", title: "t1", bucket: "b2" }, bucket: "b2" });
  sub.receive(record(1, foreign), foreign, "c");
  const leaving = change(2, {
    op: "u",
    before: { id: "r0", title: "t0", bucket: "b1" },
    after: { id: "r0", title: "t0", bucket: "b2" },
    bucket: "b2",
    changed: ["bucket"],
  });
  sub.receive(record(2, leaving), leaving, "c");
  assert.deepEqual(titles(sent), ["t0", "d"]);
  const moved = sent[1]!.frame;
  assert.equal(moved.reason, "moved_out");
  assert.equal(moved.change.before.bucket, "b1", "the old row is the subscriber's own");
  assert.equal(moved.change.after, null, "the new row, in a foreign bucket, is not shown");
});

Deno.test("subscriptions with the same id share one frame per record", () => {
  const a = subscription(), b = subscription();
  const cache: FrameCache = new Map();
  const r = record(0, change(0));
  a.sub.receive(r, change(0), "c", cache);
  b.sub.receive(r, change(0), "c", cache);
  assert.equal(cache.size, 1);
  assert.equal(a.sent[0]!.text, b.sent[0]!.text);
});

Deno.test("catch-up replays the bus, live records wait, nothing is sent twice", async () => {
  const bus = new MemoryBus({ retentionMs: 60_000, maxBytes: 1 << 20 });
  await bus.publish([0, 1, 2].map((n) => messageFor("synchub", change(n))));
  const { sub, sent } = subscription({ from: [1], live: [3], buffered: true });
  // Live records arrive while catching up: one already in the replayed range, one after it.
  sub.receive(record(2, change(2)), change(2), "live");
  sub.receive(record(3, change(3)), change(3), "live");
  assert.deepEqual(titles(sent), [], "nothing live before catch-up is done");
  await sub.catchUp(bus, [3], () => Promise.resolve());
  assert.deepEqual(titles(sent), ["t1", "t2", "t3"]);
  assert.deepEqual(decodeCursor(sent.at(-1)!.frame.cursor).offsets, [4]);
  sub.receive(record(4, change(4)), change(4), "after");
  assert.deepEqual(titles(sent), ["t1", "t2", "t3", "t4"]);
  await bus.close();
});

Deno.test("a snapshot joins the live stream without the changes it already holds", async () => {
  const { sub, sent } = subscription({ buffered: true });
  const reader: SnapshotReader = {
    async read(_request, onRows) {
      // While reading, two live changes arrive: tx 101 is in the snapshot, tx 102 is not.
      sub.receive(record(0, change(1)), change(1), "live");
      sub.receive(record(1, change(2)), change(2), "live");
      await onRows([change(0, { op: "r" })]);
      return { kind: "xid", snapshot: "102:102:" };
    },
  };
  const request = {
    source: "pg",
    table: "public.todos",
    scope: view.scope,
    bucketColumn: "bucket",
  };
  let rows = 0;
  await sub.snapshot(reader, request, () => Promise.resolve(), (n) => rows += n);
  assert.deepEqual(sent.map((s) => s.frame.type), ["change", "synced", "change"]);
  assert.deepEqual(titles(sent), ["t0", "t2"]);
  assert.equal(rows, 1);
  assert.deepEqual(sub.next, [2], "the skipped change is handled too");
});

Deno.test("a buffer over its budget reports overflow", () => {
  const { sub, overflowed } = subscription({ buffered: true, maxBufferedBytes: 10 });
  sub.receive(record(0, change(0)), change(0), "c");
  assert.equal(overflowed(), 1);
});

Deno.test("a start beyond the hub's position keeps the subscription's own cursors", () => {
  const { sub, sent } = subscription({ from: [5], live: [3] });
  sub.receive(record(3, change(3)), change(3), "hub-cursor");
  sub.receive(record(5, change(5)), change(5), "hub-cursor");
  assert.deepEqual(titles(sent), ["t5"]);
  assert.deepEqual(decodeCursor(sent[0]!.frame.cursor).offsets, [6]);
});

Deno.test("a closed subscription sends nothing and tombstones are never delivered", () => {
  const { sub, sent } = subscription();
  sub.receive({ ...record(0, change(0)), value: null }, undefined, "c");
  sub.close();
  sub.receive(record(1, change(1)), change(1), "c");
  assert.deepEqual(sent, []);
});

Deno.test("resumed from a snapshot's cursor: what it holds is skipped, its cursors say so", async () => {
  // txIds 100+n: 101 and 103 committed before the snapshot, 102 was running, 104 came after.
  const visibility = { kind: "xid" as const, snapshot: "102:104:102" };
  const bus = new MemoryBus({ retentionMs: 60_000, maxBytes: 1 << 20 });
  for (const n of [1, 2, 3]) await bus.publish([messageFor("synchub", change(n))]);
  const { sub, sent } = subscription({ from: [0], live: [3], buffered: true, visibility });
  sub.receive(record(3, change(4)), change(4), "hub-cursor"); // live meanwhile: 104, not held
  sub.receive(record(4, change(1)), change(1), "hub-cursor"); // redelivered: held
  await sub.catchUp(bus, [3], () => Promise.resolve());
  assert.deepEqual(titles(sent), ["t2", "t4"]);
  assert.deepEqual(sub.next, [5]);
  const cursor = decodeCursor(sent.at(-1)!.frame.cursor);
  assert.deepEqual(cursor.visibility, visibility, "not the hub's cursor: ours keeps the snapshot");
  assert.deepEqual(cursor.offsets, [4]);
  assert.match(sub.startCursor(), /^c2\./);
});

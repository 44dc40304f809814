import assert from "node:assert/strict";
import { batchVersions, Outbox, planRequest, type QueuedWrite } from "./outbox.ts";

let seq = 0;
const w = (over: Partial<QueuedWrite>): QueuedWrite => ({
  seq: ++seq,
  id: `k${seq}`,
  table: "public.todos",
  op: "update",
  key: { id: "a" },
  rowKey: '["a"]',
  rowId: "a",
  values: { title: "x" },
  at: 0,
  ...over,
});

Deno.test("plans: one write alone, consecutive writes to one table as a batch", () => {
  const box = new Outbox();
  const first = w({ op: "insert", values: { id: "a", title: "x" } });
  box.add(first);
  const alone = planRequest(box, () => "b1")!;
  assert.deepEqual([alone.method, alone.path, alone.id, alone.batch], [
    "POST",
    "/v1/tables/public.todos/rows",
    first.id,
    false,
  ]);
  box.add(w({ base: 3 }));
  box.add(w({ base: 3 }));
  box.add(w({ table: "public.other" }));
  const batch = planRequest(box, () => "b1")!;
  assert.equal(batch.batch, true);
  assert.equal(batch.seqs.length, 3, "stops at the other table");
  assert.deepEqual(JSON.parse(batch.body!).map((o: { version?: number }) => o.version), [
    undefined,
    3,
    4,
  ]);

  // Sent and unanswered: planned again exactly as it was.
  box.inflight = batch;
  assert.equal(planRequest(box, () => "other"), batch);

  // Refused at index 1: the write before it goes as a batch of one, the bad one alone.
  box.inflight = undefined;
  box.nextBatchLimit = 1;
  box.alone.add(batch.seqs[1]!);
  assert.deepEqual(planRequest(box, () => "b2")!.seqs, [batch.seqs[0]]);
  box.remove(batch.seqs[0]!);
  box.nextBatchLimit = undefined;
  const bad = planRequest(box, () => "b3")!;
  assert.deepEqual([bad.batch, bad.seqs, bad.ifMatch], [false, [batch.seqs[1]], "3"]);
});

Deno.test("rebase: later writes to an acknowledged row expect its new version", () => {
  const box = new Outbox();
  const a = w({ base: 1 }), b = w({ base: 1 }), other = w({ rowKey: '["z"]', base: 1 });
  [a, b, other].forEach((x) => box.add(x));
  box.remove(a.seq);
  assert.deepEqual(box.rebase(a, 2).map((x) => x.seq), [b.seq]);
  assert.equal(b.base, 2);
  assert.equal(other.base, 1);
  assert.deepEqual(batchVersions([w({ op: "insert" }), w({}), w({})]), [
    undefined,
    undefined,
    undefined,
  ]);
});

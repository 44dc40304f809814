import assert from "node:assert/strict";
import { Local, View } from "./local.ts";
import { Outbox } from "./outbox.ts";
import { Persister } from "./persist.ts";
import { memoryStorage } from "./storage/memory.ts";
import type { Envelope } from "./types.ts";

async function local() {
  const storage = memoryStorage();
  const l = new Local(new Outbox(), new Persister(storage, () => {}), storage);
  const view = await l.open(new View("todos", "public.todos", undefined, ["id"]));
  return { l, view };
}

const snapshotRow = (id: string, version: number) =>
  ({
    op: "r",
    after: { id, title: id, version },
    before: null,
    key: { id },
  }) as unknown as Envelope;

Deno.test("a write acknowledged while a snapshot arrives is not lost when the snapshot ends", async () => {
  const { l, view } = await local();
  view.snapshot = new Map();
  l.applyChange(view, snapshotRow("a", 1), undefined);
  l.applyChange(view, snapshotRow("b", 1), undefined);
  // Our insert of c and our edit of b are acknowledged meanwhile; the snapshot predates both.
  const k = (id: string) => view.keyOf({ id });
  l.settle("public.todos", k("c"), { id: "c", title: "mine", version: 1 });
  l.settle("public.todos", k("b"), { id: "b", title: "edited", version: 2 });
  // A delete of ours, acknowledged meanwhile, of a row the snapshot still holds.
  l.applyChange(view, snapshotRow("d", 1), undefined);
  l.settle("public.todos", k("d"), null);
  l.finishSnapshot(view, "cursor-1");
  const titles = Object.fromEntries([...view.rows.values()].map((r) => [r.id, r.title]));
  assert.deepEqual(titles, { a: "a", b: "edited", c: "mine" });
  assert.equal(view.settledDuringSnapshot.size, 0);
});

Deno.test("a snapshot newer than what we settled wins", async () => {
  const { l, view } = await local();
  view.snapshot = new Map();
  l.settle("public.todos", view.keyOf({ id: "a" }), { id: "a", title: "ours", version: 2 });
  l.applyChange(view, snapshotRow("a", 3), undefined);
  l.finishSnapshot(view, "cursor-1");
  assert.equal(view.rows.get(view.keyOf({ id: "a" }))?.title, "a");
});

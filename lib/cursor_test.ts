import assert from "node:assert/strict";
import { covers, decodeCursor, encodeCursor } from "./cursor.ts";
import { SyncError } from "./errors.ts";

Deno.test("cursors round-trip and are URL-safe", () => {
  const c = { epoch: "e-1", topic: "synchub.pg.public.todos", offsets: [12, 0, 7] };
  const text = encodeCursor(c);
  assert.match(text, /^c1\.[A-Za-z0-9_-]+\.12-0-7$/);
  assert.deepEqual(decodeCursor(text), c);
  assert.equal(encodeCursor(c), text, "the cached prefix gives the same text");
  assert.deepEqual(decodeCursor(encodeCursor({ ...c, offsets: [] })).offsets, []);
});

Deno.test("malformed cursors are a bad request", () => {
  const good = encodeCursor({ epoch: "e", topic: "t", offsets: [1] });
  const bad = [
    "",
    "garbage",
    "c1.!!!.1",
    "c1." + btoa("[1,2]") + ".1",
    good.replace("c1.", "c2."),
    good + "-x",
    good.replace(/\.1$/, ".-1"),
    good + ".9",
    "c1." + btoa(JSON.stringify(["", "t"])) + ".1",
  ];
  for (const text of bad) {
    assert.throws(
      () => decodeCursor(text),
      (e) => e instanceof SyncError && e.code === "bad_request",
      text,
    );
  }
});

Deno.test("covers compares offsets partition by partition", () => {
  assert.equal(covers([5, 5], [5, 4]), true);
  assert.equal(covers([5, 3], [5, 4]), false);
  assert.equal(covers([5], [5, 0]), true);
});

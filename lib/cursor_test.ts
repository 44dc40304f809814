import assert from "node:assert/strict";
import { covers, decodeCursor, encodeCursor } from "./cursor.ts";
import { SyncError } from "./errors.ts";

Deno.test("cursors round-trip and are URL-safe", () => {
  const c = { epoch: "e-1", topic: "synchub.pg.public.todos", offsets: [12, 0, 7] };
  const text = encodeCursor(c);
  assert.match(text, /^c1\.[A-Za-z0-9_-]+$/);
  assert.deepEqual(decodeCursor(text), c);
});

Deno.test("malformed cursors are a bad request", () => {
  const bad = [
    "",
    "garbage",
    "c1.!!!",
    "c1." + btoa("[1,2]"),
    encodeCursor({ epoch: "e", topic: "t", offsets: [1] }).replace("c1.", "c2."),
    "c1." + btoa(JSON.stringify(["e", "t", [-1]])),
  ];
  for (const text of bad) {
    assert.throws(
      () => decodeCursor(text),
      (e) => e instanceof SyncError && e.code === "bad_request",
    );
  }
});

Deno.test("covers compares offsets partition by partition", () => {
  assert.equal(covers([5, 5], [5, 4]), true);
  assert.equal(covers([5, 3], [5, 4]), false);
  assert.equal(covers([5], [5, 0]), true);
});

import assert from "node:assert/strict";
import { covers, decodeCursor, decodePosition, encodeCursor, encodePosition } from "./cursor.ts";
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

Deno.test("c2 cursors carry several topics and a snapshot's visibility", () => {
  const visibility = { kind: "xid" as const, snapshot: "100:105:101,103" };
  const p = {
    epoch: "kafka:x",
    offsets: { "synchub.pg.public.todos": [3, 0], "synchub.pg.public.notes": [7] },
    visibility,
  };
  const text = encodePosition(p);
  assert.match(text, /^c2\.[A-Za-z0-9_-]+$/);
  assert.deepEqual(decodePosition(text), p);
  assert.throws(() => decodeCursor(text), /malformed/, "two topics are not one topic's cursor");
  const one = encodeCursor({ epoch: "e", topic: "t", offsets: [4], visibility });
  assert.match(one, /^c2\./);
  assert.deepEqual(decodeCursor(one), { epoch: "e", topic: "t", offsets: [4], visibility });
  // A c1 cursor is a position in its one topic.
  assert.deepEqual(decodePosition(encodeCursor({ epoch: "e", topic: "t", offsets: [1, 2] })), {
    epoch: "e",
    offsets: { t: [1, 2] },
  });
});

Deno.test("malformed c2 cursors are a bad request", () => {
  const c2 = (body: unknown) =>
    "c2." + btoa(JSON.stringify(body)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const bad = [
    c2(["e", {}, null]),
    c2(["", { t: [1] }, null]),
    c2(["e", { t: [-1] }, null]),
    c2(["e", { t: [1.5] }, null]),
    c2(["e", { t: [1] }, { kind: "xid", snapshot: "1:2:x" }]),
    c2(["e", { t: [1] }, { kind: "other" }]),
    c2(["e", { t: [1] }]),
    c2(["e", [1], null]),
    c2(["e", { t: [1] }, null]) + ".1",
    "c2." + "A".repeat(40_000),
  ];
  for (const text of bad) {
    assert.throws(
      () => decodePosition(text),
      (e) => e instanceof SyncError && e.code === "bad_request",
      text.slice(0, 80),
    );
  }
});

import assert from "node:assert/strict";
import { sampleEnvelope } from "../../tests/support/envelopes.ts";
import { clientMessageSchema, frames, refOf } from "./protocol.ts";

Deno.test("valid client messages parse", () => {
  const ok = [
    { type: "subscribe", ref: "1", table: "public.todos" },
    {
      type: "subscribe",
      table: "todos",
      where: { done: false, n: { gt: 5, lte: 9 }, tag: { in: ["a"] } },
      since: "c1.x",
    },
    { type: "unsubscribe", ref: "2", sub: "s1" },
    { type: "ping" },
  ];
  for (const m of ok) {
    assert.equal(clientMessageSchema.safeParse(m).success, true, JSON.stringify(m));
  }
});

Deno.test("malformed client messages are refused", () => {
  const bad = [
    {},
    { type: "subscribe" },
    { type: "subscribe", table: "" },
    { type: "subscribe", table: "t", where: "done" },
    { type: "subscribe", table: "t", where: { "": 1 } },
    { type: "subscribe", table: "t", snapshot: "yes" },
    { type: "subscribe", table: "t", wehre: {} },
    { type: "dance" },
    { type: "ping", ref: 5 },
    "ping",
    null,
  ];
  for (const m of bad) {
    assert.equal(clientMessageSchema.safeParse(m).success, false, JSON.stringify(m));
  }
});

Deno.test("refOf echoes only string refs", () => {
  assert.equal(refOf({ ref: "7" }), "7");
  assert.equal(refOf({ ref: 7 }), undefined);
  assert.equal(refOf(null), undefined);
});

Deno.test("change frames splice the envelope JSON into valid JSON", () => {
  const e = sampleEnvelope();
  const frame = JSON.parse(frames.change("s1", "c1.abc", JSON.stringify(e)));
  assert.deepEqual(frame, { type: "change", sub: "s1", cursor: "c1.abc", change: e });
  assert.deepEqual(JSON.parse(frames.error(undefined, "bad_request", "x")), {
    type: "error",
    code: "bad_request",
    message: "x",
  });
});

import assert from "node:assert/strict";
import { AsyncQueue } from "./async_queue.ts";

Deno.test("items arrive in order; push reports the high-water mark; drain is announced", async () => {
  let drained = 0;
  const q = new AsyncQueue<number>({ highWater: 4, lowWater: 1, onDrain: () => drained++ });
  assert.equal(q.push(1), true);
  assert.equal(q.push(2), true);
  assert.equal(q.push(3), true);
  assert.equal(q.push(4), false);
  q.end();
  const got: number[] = [];
  for await (const n of q) got.push(n);
  assert.deepEqual(got, [1, 2, 3, 4]);
  assert.equal(drained, 1);
});

Deno.test("the bound counts weight, not items", () => {
  const q = new AsyncQueue<number[]>({ highWater: 10, weigh: (xs) => xs.length });
  assert.equal(q.push([1, 2, 3]), true);
  assert.equal(q.push(Array(7).fill(0)), false, "3 + 7 changes reach the mark of 10");
});

Deno.test("a consumer waiting for items wakes on push and sees failures after queued items", async () => {
  const q = new AsyncQueue<string>({ highWater: 10 });
  const got: string[] = [];
  const consumer = (async () => {
    for await (const s of q) got.push(s);
  })();
  await Promise.resolve();
  q.push("a");
  q.push("b");
  q.fail(new Error("socket closed"));
  await assert.rejects(consumer, /socket closed/);
  assert.deepEqual(got, ["a", "b"]);
});

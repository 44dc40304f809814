import assert from "node:assert/strict";
import { AsyncQueue } from "./async_queue.ts";

Deno.test("items arrive in order; push reports the high-water mark; drain is announced", async () => {
  let drained = 0;
  const q = new AsyncQueue<number>(4, () => drained++, 1);
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

Deno.test("a consumer waiting for items wakes on push and sees failures after queued items", async () => {
  const q = new AsyncQueue<string>(10);
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

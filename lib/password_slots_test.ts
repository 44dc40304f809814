import assert from "node:assert/strict";
import { SyncError } from "./errors.ts";
import { PasswordSlots } from "./password_slots.ts";

/** A hash that ends when the test says so. */
function held() {
  const ends: Array<() => void> = [];
  const hash = () => new Promise<void>((resolve) => ends.push(resolve));
  const finishOne = async () => {
    ends.shift()!();
    for (let i = 0; i < 5; i++) await Promise.resolve(); // let the next waiter start
  };
  return {
    hash,
    finishOne,
    get started() {
      return ends.length;
    },
  };
}

Deno.test("no more than `concurrency` hashes run; waiters take over freed slots in order", async () => {
  const slots = new PasswordSlots({ concurrency: 2, maxQueued: 3 });
  const h = held();
  const runs = Array.from({ length: 5 }, () => slots.run(h.hash));
  await Promise.resolve();
  assert.equal(slots.inFlight, 2);
  assert.equal(slots.queued, 3);
  assert.equal(h.started, 2);
  // A newcomer arriving as a slot frees must not jump the queue and exceed the limit.
  await h.finishOne();
  const late = slots.run(h.hash);
  assert.equal(slots.inFlight, 2);
  for (let i = 0; i < 5; i++) await h.finishOne();
  await Promise.all([...runs, late]);
  assert.equal(slots.peak, 2);
  assert.equal(slots.inFlight, 0);
  assert.equal(slots.queued, 0);
});

Deno.test("a full queue refuses at once with `overloaded` and a Retry-After", async () => {
  let rejected = 0;
  let hashed = 0;
  const slots = new PasswordSlots({
    concurrency: 1,
    maxQueued: 1,
    metrics: {
      inFlight: () => {},
      queued: () => {},
      peak: () => {},
      rejected: () => rejected++,
      hashed: () => hashed++,
    },
  });
  const h = held();
  const first = slots.run(h.hash);
  const second = slots.run(h.hash);
  await assert.rejects(slots.run(h.hash), (err) => {
    assert.ok(err instanceof SyncError);
    assert.equal(err.code, "overloaded");
    assert.equal(err.status, 503);
    assert.ok((err.details as { retryAfter: number }).retryAfter >= 1);
    return true;
  });
  assert.equal(rejected, 1);
  await h.finishOne();
  await h.finishOne();
  await Promise.all([first, second]);
  assert.equal(hashed, 2);
});

Deno.test("a failing hash frees its slot", async () => {
  const slots = new PasswordSlots({ concurrency: 1, maxQueued: 0 });
  await assert.rejects(slots.run(() => Promise.reject(new Error("boom"))), /boom/);
  assert.equal(slots.inFlight, 0);
  assert.equal(await slots.run(() => Promise.resolve(7)), 7);
});

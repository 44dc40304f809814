import assert from "node:assert/strict";
import { KeyPool, workerOf } from "./key_pool.ts";

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("key pool: one key's items run in order on one worker, in batches of at most maxBatch", async () => {
  const seen: { worker: number; items: string[] }[] = [];
  const gates: (() => void)[] = [];
  const pool = new KeyPool<string>({
    workers: 4,
    maxBatch: 3,
    run: (items, worker) => {
      seen.push({ worker, items });
      return new Promise<void>((r) => gates.push(r));
    },
    onError: (err) => assert.fail(String(err)),
  });
  for (let i = 0; i < 7; i++) pool.push("k1", `k1-${i}`);
  await tick();
  assert.equal(seen.length, 1); // the worker waits for its batch before taking the next
  assert.deepEqual(seen[0]!.items, ["k1-0"]);
  gates.shift()!();
  await tick();
  assert.deepEqual(seen[1]!.items, ["k1-1", "k1-2", "k1-3"]);
  gates.shift()!();
  await tick();
  assert.deepEqual(seen[2]!.items, ["k1-4", "k1-5", "k1-6"]);
  assert.ok(seen.every((s) => s.worker === workerOf("k1", 4)));
  gates.shift()!();
  await tick();
  assert.equal(pool.size, 0);
});

Deno.test("key pool: different keys run in parallel; room() waits for the pool to drain below", async () => {
  let running = 0;
  let most = 0;
  const release: (() => void)[] = [];
  const pool = new KeyPool<number>({
    workers: 8,
    maxBatch: 10,
    run: () => {
      most = Math.max(most, ++running);
      return new Promise<void>((r) => release.push(() => (running--, r())));
    },
    onError: () => {},
  });
  for (let i = 0; i < 64; i++) pool.push(`key-${i}`, i);
  await tick();
  assert.ok(most > 1, `ran ${most} at once`);
  let roomy = false;
  const room = pool.room(10).then(() => (roomy = true));
  await tick();
  assert.equal(roomy, false);
  while (pool.size > 0) {
    release.splice(0).forEach((r) => r());
    await tick();
  }
  await room;
  assert.equal(roomy, true);
});

Deno.test("key pool: workerOf spreads keys and is stable", () => {
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 4000; i++) counts[workerOf(`t\u0000{"id":${i}}`, 4)]!++;
  assert.ok(counts.every((n) => n > 800), counts.join(","));
  assert.equal(workerOf("abc", 7), workerOf("abc", 7));
});

import assert from "node:assert/strict";
import { KeyedLimiter, TokenBucket } from "./rate_limit.ts";

Deno.test("a token bucket allows its burst, then its rate", () => {
  let t = 0;
  const b = new TokenBucket(10, 20, () => t);
  for (let i = 0; i < 20; i++) assert.equal(b.take(), true, `burst ${i}`);
  assert.equal(b.take(), false);
  t += 100; // 0.1 s: one token
  assert.equal(b.take(), true);
  assert.equal(b.take(), false);
  t += 60_000;
  for (let i = 0; i < 20; i++) assert.equal(b.take(), true, "refilled to the burst, not beyond");
  assert.equal(b.take(), false);
});

Deno.test("a keyed limiter limits each key on its own and says how long to wait", () => {
  let t = 0;
  const l = new KeyedLimiter(1, 2, () => t);
  assert.equal(l.take("a"), undefined);
  assert.equal(l.take("a"), undefined);
  assert.equal(l.take("a"), 1, "wait a second");
  assert.equal(l.take("b"), undefined, "another key is not affected");
  for (let i = 0; i < 990; i++) l.take(`k${i}`);
  assert.ok(l.size > 990);
  t += 10_000; // every bucket refills
  for (let i = 0; i < 1000; i++) l.take("busy"); // a sweep happens along the way
  assert.ok(l.size < 10, `full buckets are forgotten (${l.size} kept)`);
});

import assert from "node:assert/strict";
import { TokenBucket } from "./rate_limit.ts";

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

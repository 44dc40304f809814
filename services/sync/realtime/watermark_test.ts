import assert from "node:assert/strict";
import { Watermark } from "./watermark.ts";

Deno.test("watermark: rises only over a gap-free prefix of done changes", () => {
  const covered: string[] = [];
  const w = new Watermark<string>((c) => covered.push(...c));
  const [a, b, c] = [w.add("a"), w.add("b"), w.add("c")];
  assert.deepEqual([a, b, c], [1, 2, 3]);
  w.done(c);
  w.done(b);
  assert.equal(w.level, 0);
  assert.deepEqual(covered, []);
  w.done(a);
  assert.equal(w.level, 3);
  assert.deepEqual(covered, ["a", "b", "c"]);
  assert.equal(w.pending, 0);
  w.done(a); // twice: no effect
  assert.equal(w.level, 3);
  assert.equal(w.add("d"), 4);
});

Deno.test("watermark: waiters resolve in order once reached; close rejects the rest", async () => {
  const w = new Watermark<number>();
  const seqs = Array.from({ length: 5 }, (_, i) => w.add(i));
  const resolved: number[] = [];
  const waits = seqs.map((s) => w.reached(s).then(() => resolved.push(s), () => "rejected"));
  w.done(1);
  w.done(3);
  await Promise.resolve();
  await Promise.resolve();
  assert.deepEqual(resolved, [1]);
  w.done(2);
  w.close(new Error("stopping"));
  const outcomes = await Promise.all(waits);
  assert.deepEqual(resolved, [1, 2, 3]);
  assert.deepEqual(outcomes.slice(3), ["rejected", "rejected"]);
  await assert.rejects(w.reached(5), /stopping/);
  await w.reached(3); // already reached: resolves even after close
});

Deno.test("watermark: many changes compact without losing count", () => {
  const w = new Watermark<null>();
  for (let i = 1; i <= 5000; i++) {
    const s = w.add(null);
    if (i % 2 === 0) {
      w.done(s);
      w.done(s - 1);
    }
  }
  assert.equal(w.level, 5000);
  assert.equal(w.pending, 0);
});

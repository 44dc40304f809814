import assert from "node:assert/strict";
import { Congestion, type Drainable } from "./congestion.ts";

function socket(buffered: number): Drainable & { level: number; closed: boolean } {
  const s = {
    level: buffered,
    closed: false,
    buffered: () => s.level,
    isClosed: () => s.closed,
  };
  return s;
}

Deno.test("no congestion, no waiting", () => {
  const c = new Congestion(100);
  c.note(socket(50), 50);
  assert.equal(c.wait(), undefined);
});

Deno.test("the bus waits until full sockets drain", async () => {
  const c = new Congestion(100, 10_000);
  const s = socket(500);
  c.note(s, 500);
  let done = false;
  const waiting = c.wait()!.then(() => done = true);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(done, false);
  s.level = 10;
  await waiting;
  assert.equal(c.size, 0);
});

Deno.test("a socket that stays full is waited for only as long as the patience", async () => {
  const c = new Congestion(100, 30);
  const stuck = socket(500);
  c.note(stuck, 500);
  await c.wait();
  assert.equal(c.size, 0, "given up on");
  const closed = socket(500);
  c.note(closed, 500);
  closed.closed = true;
  assert.equal(c.wait(), undefined, "a closed socket is not waited for");
});

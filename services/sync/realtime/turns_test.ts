import assert from "node:assert/strict";
import { Turns } from "./turns.ts";

Deno.test("turns: one name runs one at a time in order; other names run alongside; errors pass", async () => {
  const turns = new Turns();
  const log: string[] = [];
  let release!: () => void;
  const first = turns.run("a", async () => {
    log.push("a1 start");
    await new Promise<void>((r) => (release = r));
    log.push("a1 end");
  });
  const second = turns.run("a", () => {
    log.push("a2");
    return Promise.reject(new Error("boom"));
  });
  const third = turns.run("a", () => Promise.resolve(log.push("a3")));
  await turns.run("b", () => Promise.resolve(log.push("b")));
  assert.deepEqual(log, ["a1 start", "b"]);
  release();
  await first;
  await assert.rejects(second, /boom/);
  await third;
  assert.deepEqual(log, ["a1 start", "b", "a1 end", "a2", "a3"]);
});

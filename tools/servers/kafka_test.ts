import assert from "node:assert/strict";
import { clusterId } from "./kafka.ts";

Deno.test("a cluster id never starts with '-' (kafka-storage would read it as an option)", () => {
  // 0xf8 encodes as "-" in base64url's first character: the first draw must be refused.
  const draws = [new Uint8Array(16).fill(0xf8), new Uint8Array(16).fill(0x10)];
  const id = clusterId(() => draws.shift()!);
  assert.equal(draws.length, 0, "the '-' id was not redrawn");
  assert.match(id, /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  for (let i = 0; i < 2000; i++) assert.notEqual(clusterId()[0], "-");
});

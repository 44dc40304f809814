import assert from "node:assert/strict";
import { bucketValue, canRead, canWrite, defaultBucket, grantOf } from "./buckets.ts";

Deno.test("a token reads its own buckets and unbucketed rows, nothing else", () => {
  const g = grantOf(["a"]);
  assert.equal(canRead(g, "a"), true);
  assert.equal(canRead(g, null), true);
  assert.equal(canRead(g, "b"), false);
  assert.equal(canRead(grantOf([]), "a"), false);
});

Deno.test("writes need the bucket; unbucketed rows need '*'", () => {
  assert.equal(canWrite(grantOf(["a"]), "a"), true);
  assert.equal(canWrite(grantOf(["a"]), "b"), false);
  assert.equal(canWrite(grantOf(["a"]), null), false);
  assert.equal(canWrite(grantOf(["*"]), null), true);
  assert.equal(canRead(grantOf(["*"]), "zzz"), true);
});

Deno.test("default bucket only when the token holds exactly one", () => {
  assert.equal(defaultBucket(grantOf(["a"])), "a");
  assert.equal(defaultBucket(grantOf(["a", "b"])), null);
  assert.equal(defaultBucket(grantOf(["*"])), null);
  assert.equal(bucketValue(7), "7");
  assert.equal(bucketValue(undefined), null);
});

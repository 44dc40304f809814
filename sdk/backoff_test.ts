import assert from "node:assert/strict";
import { AUTH_BACKOFF, backoffDelay, NETWORK_BACKOFF } from "./backoff.ts";

Deno.test("back-off grows, is capped, and is jittered", () => {
  assert.equal(backoffDelay(NETWORK_BACKOFF, 0, () => 0), Math.round(NETWORK_BACKOFF.baseMs / 4));
  assert.equal(backoffDelay(NETWORK_BACKOFF, 0, () => 1), NETWORK_BACKOFF.baseMs);
  assert.equal(backoffDelay(NETWORK_BACKOFF, 3, () => 1), NETWORK_BACKOFF.baseMs * 8);
  assert.equal(backoffDelay(NETWORK_BACKOFF, 40, () => 1), NETWORK_BACKOFF.capMs);
  assert.ok(backoffDelay(AUTH_BACKOFF, 0, () => 1) > backoffDelay(NETWORK_BACKOFF, 0, () => 1));
  const draws = new Set(Array.from({ length: 20 }, () => backoffDelay(NETWORK_BACKOFF, 5)));
  assert.ok(draws.size > 1, "jittered");
});

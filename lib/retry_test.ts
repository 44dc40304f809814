import assert from "node:assert/strict";
import { backoffDelay, classifyFailure, sleep } from "./retry.ts";

Deno.test("failures are classified by code and message", () => {
  assert.equal(
    classifyFailure({ code: "28P01", message: "password authentication failed" }),
    "auth",
  );
  assert.equal(classifyFailure({ code: "ECONNREFUSED" }), "network");
  assert.equal(classifyFailure(new Error("Connection terminated unexpectedly")), "network");
  assert.equal(classifyFailure(new Error("relation does not exist")), "other");
  const config = Object.assign(new Error("binlog_format is MIXED"), { name: "BinlogConfigError" });
  assert.equal(classifyFailure(config), "config");
});

Deno.test("back-off grows with attempts, is capped and differs by kind", () => {
  const max = () => 1;
  assert.equal(backoffDelay("other", 0, max), 100);
  assert.equal(backoffDelay("other", 3, max), 800);
  assert.equal(backoffDelay("other", 40, max), 5_000);
  assert.equal(backoffDelay("network", 40, max), 15_000);
  assert.equal(backoffDelay("auth", 0, max), 5_000);
  // Jitter never drops below a quarter of the base, so retries cannot spin.
  assert.equal(backoffDelay("network", 5, () => 0), 125);
});

Deno.test("sleep resolves on abort and leaves no timer behind", async () => {
  // The op sanitizer fails this test if the 60 s timer were still pending.
  const c = new AbortController();
  const p = sleep(60_000, c.signal);
  c.abort();
  assert.equal(await p, undefined);
  assert.equal(await sleep(60_000, c.signal), undefined);
});

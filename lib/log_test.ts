import assert from "node:assert/strict";
import { createLogger } from "./log.ts";

Deno.test("a log line is one JSON object with ts, level, service, msg, trace ids and an error's stack", () => {
  const lines: string[] = [];
  const log = createLogger("listener", "info", (l) => lines.push(l));
  log.debug("hidden");
  log.child("catalog").error("could not publish", {
    err: new Error("boom", { cause: "net" }),
    n: 2n,
  });
  assert.equal(lines.length, 1);
  assert.ok(!lines[0]!.includes("\n"), "one line");
  const entry = JSON.parse(lines[0]!);
  assert.deepEqual(Object.keys(entry).slice(0, 7), [
    "ts",
    "level",
    "service",
    "component",
    "msg",
    "trace_id",
    "span_id",
  ]);
  assert.equal(entry.service, "listener");
  assert.equal(entry.component, "catalog");
  assert.equal(entry.trace_id, null, "no active span without OTEL_DENO");
  assert.equal(entry.err.message, "boom");
  assert.match(entry.err.stack, /log_test\.ts/);
  assert.equal(entry.err.cause, "net");
  assert.equal(entry.n, "2");
});

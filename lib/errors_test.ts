import assert from "node:assert/strict";
import { asSyncError, ERROR_CODES, SyncError } from "./errors.ts";

Deno.test("every error code maps to a 4xx/5xx status and a SPEC WebSocket code", () => {
  const wsCodes = new Set([
    "bad_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "cursor_expired",
    "rate_limited",
    "internal",
  ]);
  for (const [code, m] of Object.entries(ERROR_CODES)) {
    assert.ok(m.status >= 400 && m.status < 600, code);
    assert.ok(wsCodes.has(m.ws), code);
  }
});

Deno.test("SyncError renders the SPEC error body", () => {
  const e = new SyncError("validation_failed", 'column "nope" does not exist', {
    column: "nope",
  });
  assert.equal(e.status, 400);
  assert.equal(e.wsCode, "bad_request");
  assert.deepEqual(e.toBody(), {
    error: {
      code: "validation_failed",
      message: 'column "nope" does not exist',
      details: { column: "nope" },
    },
  });
  assert.deepEqual(new SyncError("forbidden").toBody().error.code, "forbidden");
});

Deno.test("unknown failures never leak their message", () => {
  const e = asSyncError(new Error("connection to 10.0.0.5 refused: password=hunter2"));
  assert.equal(e.code, "internal");
  assert.ok(!e.message.includes("hunter2"));
  const known = new SyncError("not_found");
  assert.equal(asSyncError(known), known);
});

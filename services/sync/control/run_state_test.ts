import assert from "node:assert/strict";
import { SyncError } from "../../../lib/errors.ts";
import { nextRunState, stateFromHistory } from "./run_state.ts";

Deno.test("run state: idle → running → each end state → running again", () => {
  assert.equal(nextRunState("idle", { type: "start" }), "running");
  for (const end of ["completed", "failed", "cancelled"] as const) {
    assert.equal(nextRunState("running", { type: "end", status: end }), end);
    assert.equal(nextRunState(end, { type: "start" }), "running");
  }
});

Deno.test("run state: a second start while running is a 409; an end without a run is a bug", () => {
  assert.throws(
    () => nextRunState("running", { type: "start" }),
    (e) => e instanceof SyncError && e.status === 409,
  );
  assert.throws(
    () => nextRunState("idle", { type: "end", status: "completed" }),
    (e) => e instanceof SyncError && e.code === "internal",
  );
  assert.throws(() => nextRunState("completed", { type: "end", status: "failed" }));
});

Deno.test("run state: from history — idle without runs, else the newest run's end state", () => {
  assert.equal(stateFromHistory(undefined), "idle");
  assert.equal(stateFromHistory({ status: "cancelled" }), "cancelled");
  assert.equal(stateFromHistory({ status: "completed" }), "completed");
  assert.equal(stateFromHistory({ status: "running" }), "failed");
});

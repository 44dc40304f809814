import assert from "node:assert/strict";
import { explain } from "./change_stream_source.ts";
import { ChangeStreamEnded } from "./decode.ts";

Deno.test("a resume point gone from the oplog becomes a clear, non-retryable error", () => {
  const lost = explain(
    Object.assign(new Error("Resume of change stream was not possible"), { code: 286 }),
    "mongo",
  );
  assert.ok(lost instanceof ChangeStreamEnded);
  assert.match((lost as Error).message, /no longer in the oplog.*source_positions/);
  assert.equal((lost as Error).name, "ChangeStreamConfigError", "retried slowly, as configuration");
  const noReplicaSet = explain(
    new Error("The $changeStream stage is only supported on replica sets"),
    "mongo",
  );
  assert.match((noReplicaSet as Error).message, /replica set/);
  const other = new Error("connection reset");
  assert.equal(explain(other, "mongo"), other, "anything else is retried as it is");
});

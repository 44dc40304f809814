import assert from "node:assert/strict";
import type { TableConfig } from "./config.ts";
import {
  decide,
  type Decision,
  lastWriteWins,
  manual,
  sourcePriority,
  timestampMicros,
} from "./strategies.ts";

const table = (over: Partial<TableConfig> = {}) => ({
  timestamp_column: "updated_at",
  priority: "local" as const,
  conflict_resolution: "last_write_wins" as const,
  ...over,
});
const at = (t: string, n = 1) => ({ row: { id: 1, n, updated_at: t } });
const winner = (d: Decision) => (d.action === "take" ? d.winner : "parked");

Deno.test("lastWriteWins: the later timestamp wins, to the microsecond", () => {
  const micro = lastWriteWins({
    local: at("2024-01-01T00:00:00.000001Z"),
    cloud: at("2024-01-01T00:00:00Z"),
    table: table(),
  });
  assert.deepEqual(micro, { action: "take", winner: "local", strategy: "last_write_wins" });
  const noZone = lastWriteWins({
    local: at("2024-01-01T00:00:00"),
    cloud: at("2024-01-01 00:00:00.5"),
    table: table(),
  });
  assert.equal(winner(noZone), "cloud");
  // Zones are honoured: 01:00+02:00 is earlier than 00:30Z.
  const zoned = lastWriteWins({
    local: at("2024-01-01T01:00:00+02:00"),
    cloud: at("2024-01-01T00:30:00Z"),
    table: table(),
  });
  assert.equal(winner(zoned), "cloud");
});

Deno.test("lastWriteWins: a tie goes to priority; a delete counts by when it happened", () => {
  const tie = { local: at("2024-01-01T00:00:00Z"), cloud: at("2024-01-01T00:00:00Z") };
  assert.equal(winner(lastWriteWins({ ...tie, table: table({ priority: "cloud" }) })), "cloud");
  assert.equal(winner(lastWriteWins({ ...tie, table: table({ priority: "local" }) })), "local");
  const deletedLater = {
    local: { row: null, deletedAtMs: Date.parse("2024-01-02T00:00:00Z") },
    cloud: at("2024-01-01T00:00:00Z"),
    table: table({ priority: "cloud" }),
  };
  assert.equal(winner(lastWriteWins(deletedLater)), "local");
  // A side without a usable time loses to one that has it.
  const untimed = lastWriteWins({
    local: { row: { id: 1, updated_at: null } },
    cloud: at("2024-01-01T00:00:00Z"),
    table: table(),
  });
  assert.equal(winner(untimed), "cloud");
});

Deno.test("sourcePriority: the configured side wins whatever the times", () => {
  const input = { local: at("2030-01-01T00:00:00Z"), cloud: at("2000-01-01T00:00:00Z") };
  assert.deepEqual(sourcePriority({ ...input, table: table({ priority: "cloud" }) }), {
    action: "take",
    winner: "cloud",
    strategy: "source_priority",
  });
});

Deno.test("manual: parks, and decide() picks the configured strategy", () => {
  const input = { local: at("2024-01-01T00:00:00Z"), cloud: { row: null } };
  assert.deepEqual(manual({ ...input, table: table() }), { action: "park", strategy: "manual" });
  assert.deepEqual(decide({ ...input, table: table({ conflict_resolution: "manual" }) }), {
    action: "park",
    strategy: "manual",
  });
  assert.equal(
    decide({ ...input, table: table({ conflict_resolution: "source_priority" }) }).strategy,
    "source_priority",
  );
});

Deno.test("timestampMicros: ISO text and epoch numbers", () => {
  assert.equal(timestampMicros("1970-01-01T00:00:01.5Z"), 1_500_000);
  assert.equal(timestampMicros("1970-01-01 00:00:01"), 1_000_000);
  assert.equal(timestampMicros(1_700_000_000), 1_700_000_000_000_000);
  assert.equal(timestampMicros(1_700_000_000_000), 1_700_000_000_000_000);
  assert.equal(timestampMicros("yesterday"), undefined);
});

/**
 * The sync service's hub events (SPEC §10) on the hub's bus: a run's outcome as `sync.completed`
 * (its run object) and each conflict it parks as `conflict.detected` with `source: "sync"`.
 */
import assert from "node:assert/strict";
import { MemoryBus } from "../lib/bus/memory_bus.ts";
import { type EventType, type HubEvent, HubEvents, parseEvent } from "../lib/events.ts";
import { silentLogger } from "../lib/log.ts";
import { eventsOf as rawEventsOf } from "./support/events.ts";
import { startControl } from "./support/sync_control.ts";

const PREFIX = "synchub";

/** The events of a type, parsed, once there are at least `n`. */
async function eventsOf(bus: MemoryBus, type: EventType, n: number): Promise<HubEvent[]> {
  return (await rawEventsOf(bus, PREFIX, type, n)).map((v) => parseEvent(v)!);
}

Deno.test({
  name: "sync run outcomes and parked conflicts reach the hub's event topics",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const bus = new MemoryBus({ retentionMs: 3_600_000, maxBytes: 1 << 20 });
    const table = `CREATE TABLE notes (id int PRIMARY KEY, body text);`;
    const h = await startControl({
      setup: {
        local: `${table} INSERT INTO notes VALUES (1, 'local one'), (2, 'same')`,
        cloud: `${table} INSERT INTO notes VALUES (1, 'cloud one'), (2, 'same')`,
      },
      sync: "  mode: bidirectional\n  tables: [{ name: notes, conflict_resolution: manual }]",
      events: new HubEvents(bus, PREFIX, silentLogger),
    });
    try {
      // The first start ran by itself and parked the one diverged row.
      const [completed] = await eventsOf(bus, "sync.completed", 1);
      const run = completed!.data as Record<string, unknown>;
      assert.equal(run.status, "completed");
      assert.equal(typeof run.id, "string");
      assert.equal(run.conflicts_detected, 1);

      const conflicts = await eventsOf(bus, "conflict.detected", 1);
      assert.equal(conflicts.length, 1);
      assert.deepEqual(conflicts[0]!.data, { source: "sync", table: "notes", key: { id: 1 } });
      // Nothing of the rows' values or the databases' URLs travels in events.
      assert.doesNotMatch(JSON.stringify([completed, conflicts]), /local one|cloud one|postgres:/);

      // A run asked for through the API: its own event, with its own id.
      const triggered = await h.api("/api/v1/sync/trigger", { method: "POST" });
      assert.equal(triggered.status, 202, await triggered.clone().text());
      const { run_id } = await triggered.json();
      const both = await eventsOf(bus, "sync.completed", 2);
      assert.equal((both[1]!.data as Record<string, unknown>).id, run_id);
      assert.notEqual(run_id, run.id);
    } finally {
      await h.close();
      await bus.close();
    }
  },
});

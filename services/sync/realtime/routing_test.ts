import assert from "node:assert/strict";
import type { Envelope } from "../../../lib/envelope.ts";
import type { TableConfig } from "../config.ts";
import { byKey } from "./direction.ts";
import { committedAtUs, routeEnvelope, type RoutingRules } from "./routing.ts";

const users: TableConfig = {
  name: "users",
  primary_key: undefined,
  conflict_resolution: "source_priority",
  priority: "local",
  ignore_columns: [],
};

function envelope(
  over: Partial<Omit<Envelope, "source">> & { source?: Partial<Envelope["source"]> } = {},
) {
  const { source, ...rest } = over;
  return {
    id: "x",
    op: "u",
    before: { id: 1, v: "a" },
    after: { id: 1, v: "b" },
    key: { id: 1 },
    changed: ["v"],
    bucket: null,
    transaction: null,
    ts_ms: 1_000,
    ts_us: 1_000_500,
    ts_ns: 1_000_500_000,
    ...rest,
    source: {
      version: "1",
      connector: "postgresql",
      name: "sync-a-local",
      db: "app",
      schema: "public",
      table: "users",
      position: "0000000000000010:0000000000",
      txId: "7",
      ts_ms: 900,
      ts_us: 900_100,
      ts_ns: 900_100_000,
      snapshot: "false",
      ...source,
    },
  } as Envelope;
}

const rules = (over: Partial<RoutingRules> = {}): RoutingRules => ({
  instance: "a",
  tables: new Map([["public.users", users]]),
  committed: new Map(),
  ...over,
});

Deno.test("routing: a synced table's change is applied, with its key and commit time", () => {
  const r = routeEnvelope(envelope(), rules());
  assert.equal(r.kind, "apply");
  if (r.kind !== "apply") return;
  assert.equal(r.table, users);
  assert.deepEqual(r.change, {
    op: "u",
    before: { id: 1, v: "a" },
    after: { id: 1, v: "b" },
    tsMs: 900,
    key: { id: 1 },
  });
});

Deno.test("routing: own echo, snapshot reads, truncates and other tables are dropped", () => {
  const drop = (e: Envelope, r = rules()) => {
    const route = routeEnvelope(e, r);
    return route.kind === "drop" ? route.reason : "apply";
  };
  assert.equal(
    drop(envelope({ source: { origin: { instance: "a", direction: "local_to_cloud" } } })),
    "echo",
  );
  // Another instance's writes still flow (chains A↔B↔C).
  assert.equal(
    drop(envelope({ source: { origin: { instance: "b", direction: "local_to_cloud" } } })),
    "apply",
  );
  assert.equal(drop(envelope({ op: "r", before: null, changed: null })), "snapshot");
  assert.equal(
    drop(envelope({ op: "t", before: null, after: null, key: {}, changed: null })),
    "truncate",
  );
  assert.equal(drop(envelope({ source: { table: "synchub_sync_marker" } })), "not_synced");
  assert.equal(drop(envelope({ source: { schema: "other" } })), "not_synced");
  // MySQL names by db.
  assert.equal(
    drop(
      envelope({ source: { connector: "mysql", schema: null, db: "app" } }),
      rules({ tables: new Map([["app.users", users]]) }),
    ),
    "apply",
  );
});

Deno.test("routing: changes at or before the table's committed position are replays", () => {
  const r = rules({ committed: new Map([["users", "0000000000000010:0000000000"]]) });
  assert.equal(routeEnvelope(envelope(), r).kind, "drop");
  const later = envelope({ source: { position: "0000000000000011:0000000000" } });
  assert.equal(routeEnvelope(later, r).kind, "apply");
});

Deno.test("routing: lag starts at the commit, or at the listener for the binlog's whole seconds", () => {
  assert.equal(committedAtUs(envelope()), 900_100);
  assert.equal(committedAtUs(envelope({ source: { connector: "mysql" } })), 1_000_500);
});

Deno.test("byKey: an update that moves the key is a delete of the old and a create of the new", () => {
  const e = envelope({ before: { id: 1, v: "a" }, after: { id: 2, v: "a" }, key: { id: 2 } });
  const r = routeEnvelope(e, rules());
  assert.equal(r.kind, "apply");
  if (r.kind !== "apply") return;
  const parts = byKey(r.change, e);
  assert.deepEqual(parts.map((p) => [p.key, p.change.op]), [['{"id":1}', "d"], ['{"id":2}', "c"]]);
  assert.deepEqual(parts[0]!.change.before, { id: 1, v: "a" });
  assert.deepEqual(parts[1]!.change.after, { id: 2, v: "a" });
  // An ordinary update stays one change.
  const plain = routeEnvelope(envelope(), rules());
  assert.equal(plain.kind === "apply" ? byKey(plain.change, envelope()).length : 0, 1);
});

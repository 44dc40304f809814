/**
 * What the realtime applier does with one envelope of a captured side, decided without I/O:
 * apply it to its table, or drop it — the sync's own writes coming back (no echo), snapshot
 * reads, truncates, tables that are not synced (the marker included), and changes a previous
 * run already committed (at or before the table's stored position).
 */
import type { Envelope } from "../../../lib/envelope.ts";
import type { TableConfig } from "../config.ts";
import { changeOf, type SourceChange } from "./apply_changes.ts";

export type DropReason = "echo" | "snapshot" | "truncate" | "not_synced" | "replayed";

export type Route =
  | { readonly kind: "apply"; readonly table: TableConfig; readonly change: SourceChange }
  | { readonly kind: "drop"; readonly reason: DropReason; readonly table?: TableConfig };

export interface RoutingRules {
  /** This service's `sync.instance`: envelopes its own marker tagged are its own writes. */
  readonly instance: string;
  /** `schema.table` / `db.table` as the source names it → the configured table. */
  readonly tables: ReadonlyMap<string, TableConfig>;
  /** Per configured table: the position up to which a previous run committed everything. */
  readonly committed: ReadonlyMap<string, string>;
}

export function routeEnvelope(e: Envelope, rules: RoutingRules): Route {
  const table = rules.tables.get(`${e.source.schema ?? e.source.db}.${e.source.table}`);
  if (!table) return { kind: "drop", reason: "not_synced" };
  // Written by this instance (its marker began the transaction): it came from the other side.
  if (e.source.origin?.instance === rules.instance) return { kind: "drop", reason: "echo", table };
  // The batch run makes sides equal initially; a snapshot read cannot say who changed what.
  if (e.op === "r") return { kind: "drop", reason: "snapshot", table };
  const change = changeOf(e);
  if (!change) return { kind: "drop", reason: "truncate", table };
  const done = rules.committed.get(table.name);
  if (done !== undefined && e.source.position <= done) {
    return { kind: "drop", reason: "replayed", table };
  }
  return { kind: "apply", table, change };
}

/**
 * When the change reached the listener, for lag: PostgreSQL stamps commits to the microsecond,
 * the binlog only to the second — there the listener's own time is nearer the truth.
 */
export function committedAtUs(e: Envelope): number {
  return e.source.connector === "mysql" ? Math.max(e.source.ts_us, e.ts_us) : e.source.ts_us;
}

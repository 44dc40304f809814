/**
 * Conflict detection (SPEC §8.2), pure. Realtime: a change is checked against the target's
 * current row by hashes — the target still as the source's `before` means only the source
 * changed; as its `after`, the change is already there (a redelivery); anything else means both
 * sides changed. Batch runs have no `before`: a row that differs is copied one way, or in
 * bidirectional mode is a conflict for the table's strategy.
 */
import type { ConflictType } from "./state_store/store.ts";

export type Verdict =
  | { readonly kind: "apply" }
  | { readonly kind: "skip" }
  | { readonly kind: "conflict"; readonly type: ConflictType };

export interface RealtimeCheck {
  readonly op: "c" | "u" | "d" | "r";
  /** Null when the source sent no before image (PostgreSQL without REPLICA IDENTITY FULL). */
  readonly beforeHash: string | null;
  readonly afterHash: string | null;
  /** Null when the row is absent on the target. */
  readonly targetHash: string | null;
  /** The target deleted this row (a tombstone from its own realtime stream). */
  readonly targetDeleted: boolean;
}

export function checkChange(c: RealtimeCheck): Verdict {
  if (c.op === "d") {
    if (c.targetHash === null) return { kind: "skip" };
    if (c.beforeHash === null || c.targetHash === c.beforeHash) return { kind: "apply" };
    return { kind: "conflict", type: "update_delete" };
  }
  if (c.targetHash !== null && c.targetHash === c.afterHash) return { kind: "skip" };
  if (c.targetHash === null) {
    // Gone on the target while the source changed it: both sides acted on the row.
    return c.op === "u" && c.targetDeleted
      ? { kind: "conflict", type: "update_delete" }
      : { kind: "apply" };
  }
  if (c.op === "u" && (c.beforeHash === null || c.targetHash === c.beforeHash)) {
    return { kind: "apply" };
  }
  return { kind: "conflict", type: "update_update" };
}

export type BatchPlan = "copy" | "skip" | "conflict";

export interface BatchCheck {
  readonly sourceHash: string;
  readonly targetHash: string | null;
  readonly bidirectional: boolean;
  /** A delete of this row was seen in realtime: a batch run must not bring it back. */
  readonly tombstoned: boolean;
}

export function planBatchRow(c: BatchCheck): BatchPlan {
  if (c.targetHash === null) return c.tombstoned ? "skip" : "copy";
  if (c.targetHash === c.sourceHash) return "skip";
  return c.bidirectional ? "conflict" : "copy";
}

/**
 * Snapshots: a table's current rows as `op:"r"` envelopes, read by the listener (the owner of
 * source credentials) for whoever asks — the gateway in the same process directly, or from
 * another process over the listener's HTTP port (lib/snapshot_http.ts). Both reach the same
 * `SnapshotReader`.
 *
 * A snapshot says which transactions its rows include (its visibility), so a subscriber joins the
 * live stream without a gap or a duplicate: a live change is already in the snapshot iff its
 * transaction is visible to it.
 */
import type { RowScope } from "./access.ts";
import type { Envelope, JsonValue } from "./envelope.ts";

export type { RowScope };

/** Equality conditions the reader may push into its query (the rest is filtered by the caller). */
export type Equalities = Readonly<Record<string, JsonValue>>;

export interface SnapshotRequest {
  /** The source capturing the table, and the table as the catalog names it. */
  readonly source: string;
  readonly table: string;
  readonly scope: RowScope;
  /** The column `scope` applies to (the access policy's); null when the table has none. */
  readonly bucketColumn: string | null;
  readonly equalities?: Equalities | undefined;
}

/** What a snapshot's rows include, as data (it crosses processes). */
export type Visibility =
  /** PostgreSQL: `pg_current_snapshot()` text of the reading transaction, `xmin:xmax:xip,…`. */
  | { readonly kind: "xid"; readonly snapshot: string }
  /** A source whose positions sort in commit order: changes at or before this position. */
  | { readonly kind: "position"; readonly position: string };

export interface SnapshotReader {
  /**
   * Calls `onRows` with the rows in key order, in batches, waiting for each call (backpressure),
   * and resolves with what the rows include. Throws `not_found` for a table the reader does not
   * have, `unavailable` when its database cannot be read.
   */
  read(
    request: SnapshotRequest,
    onRows: (envelopes: Envelope[]) => Promise<void>,
    signal?: AbortSignal,
  ): Promise<Visibility>;
}

/** Tells whether a live change is already part of a snapshot with this visibility. */
export function inSnapshot(
  visibility: Visibility,
): (change: Pick<Envelope["source"], "txId" | "position">) => boolean {
  if (visibility.kind === "position") return (c) => c.position <= visibility.position;
  const xids = xidSnapshot(visibility.snapshot);
  return (c) => xids(c.txId);
}

/** Parses `pg_current_snapshot()` text into a test of (32-bit, as in envelopes) xids. */
export function xidSnapshot(snapshot: string): (txId: string | null) => boolean {
  const [xmin, xmax, list] = snapshot.split(":");
  const min = BigInt(xmin!), max = BigInt(xmax!);
  const running = new Set((list ?? "").split(",").filter(Boolean).map(BigInt));
  return (txId) => {
    if (txId === null || !/^\d+$/.test(txId)) return false;
    // Envelopes carry 32-bit xids; widen with the epoch of xmax (it is at most 2^31 behind).
    const epoch = max >> 32n;
    let xid = (epoch << 32n) | BigInt(txId);
    if (xid > max + (1n << 31n)) xid -= 1n << 32n;
    if (xid < min) return true;
    if (xid >= max) return false;
    return !running.has(xid);
  };
}

/**
 * A change source: started with an AbortSignal, it streams batches of envelopes from its last
 * confirmed position and is told when a position is safe to confirm. Sources know nothing of the
 * bus; the pipeline confirms a batch only after the bus has accepted it and every batch before it.
 * A source also owns its database's metadata: the tables it captures, and their current rows.
 */
import type { TableInfo } from "../../lib/catalog.ts";
import type { Connector, Envelope } from "../../lib/envelope.ts";
import type { SnapshotReader } from "../../lib/snapshot.ts";

export interface SourceBatch {
  /** Envelopes in commit order: a whole transaction, or a part of one; may be empty. */
  readonly envelopes: readonly Envelope[];
  /**
   * Opaque to everyone but the source: confirming it releases everything up to this batch. Null
   * for a part of a transaction whose end is still to come: nothing to confirm yet.
   */
  readonly checkpoint: string | null;
  /** The W3C traceparent of the transaction, when its writer traced it (SPEC §12). */
  readonly trace?: string;
}

/** How a source's position fares at its database, for metrics. */
export interface SourceHealth {
  /** Bytes of change the database holds that the bus does not have yet (slot lag). */
  lagBytes?: number;
  /** Bytes of log the database keeps for us (from the slot's restart point). */
  retainedBytes?: number;
  /** Seconds since the confirmed position last moved. */
  confirmedAgeSeconds?: number;
}

/**
 * The source's position is gone at its database — a replication slot invalidated or dropped, a
 * binlog purged, a resume token out of the oplog: changes were lost to SyncHub. Never resumed
 * silently; the message says how to start afresh.
 */
export class PositionLostError extends Error {
  override name = "PositionLostError";
}

export interface Source {
  readonly name: string;
  readonly connector: Connector;
  /** Streams from the last confirmed position until the signal aborts; throws when it fails. */
  stream(signal: AbortSignal): AsyncIterable<SourceBatch>;
  /** Every batch up to and including `checkpoint` is on the bus. */
  confirm(checkpoint: string): Promise<void>;
  /** True while the source is connected and streaming. */
  ready(): boolean;
  /** The tables it captures, as catalog entries, read from its database now. */
  tables(): Promise<TableInfo[]>;
  /** Reads a table's current rows for subscribers that ask for a snapshot; absent when it cannot. */
  readonly snapshots?: SnapshotReader;
  /** Releases what the source holds between streams (connection pools). */
  close?(): Promise<void>;
  /** How its position fares at its database (lag, retention), when it can tell. */
  health?(): SourceHealth;
}

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
}

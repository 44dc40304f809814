/**
 * A change source: started with an AbortSignal, it streams batches of envelopes from its last
 * confirmed position and is told when a position is safe to confirm. Sources know nothing of the
 * bus; the pipeline confirms a batch only after the bus has accepted it and every batch before it.
 */
import type { Connector, Envelope } from "../../lib/envelope.ts";

export interface SourceBatch {
  /** The envelopes of one source transaction, in commit order; may be empty. */
  readonly envelopes: readonly Envelope[];
  /** Opaque to everyone but the source: confirming it releases everything up to this batch. */
  readonly checkpoint: string;
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
}

import { columnNamed } from "../../lib/access.ts";
import { silentLogger } from "../../lib/log.ts";
import type { PositionStore } from "../../lib/postgres/positions.ts";
import type { Envelope } from "../../lib/envelope.ts";
import { envelopeSchema } from "../../lib/envelope.ts";
import { WalSource } from "../../services/listener/postgres/wal_source.ts";
import type { SourceBatch } from "../../services/listener/source.ts";
import { waitFor } from "./wait.ts";

export interface RunningSource {
  source: WalSource;
  batches: SourceBatch[];
  envelopes(): Envelope[];
  /** Waits until at least `n` envelopes have arrived and returns them. */
  waitForEnvelopes(n: number): Promise<Envelope[]>;
  stop(): Promise<void>;
  failure(): unknown;
}

/** Streams a WalSource in the background; every envelope is checked against the SPEC schema. */
export async function runSource(
  url: string,
  slot: string,
  opts: {
    confirm?: boolean;
    bucketColumn?: string;
    partSize?: number;
    positions?: PositionStore;
    healthIntervalMs?: number;
    snapshotMode?: "initial" | "never";
  } = {},
): Promise<RunningSource> {
  const source = new WalSource({
    name: "pg",
    url,
    slot,
    publication: "synchub",
    publicationTables: undefined,
    bucketColumns: columnNamed(opts.bucketColumn ?? "bucket"),
    log: silentLogger,
    statusIntervalMs: 200,
    ...(opts.partSize ? { partSize: opts.partSize } : {}),
    ...(opts.positions ? { positions: opts.positions } : {}),
    ...(opts.healthIntervalMs ? { healthIntervalMs: opts.healthIntervalMs } : {}),
    ...(opts.snapshotMode ? { snapshotMode: opts.snapshotMode } : {}),
  });
  const ac = new AbortController();
  const batches: SourceBatch[] = [];
  let failed: unknown;
  const running = (async () => {
    for await (const batch of source.stream(ac.signal)) {
      for (const e of batch.envelopes) envelopeSchema.parse(e);
      batches.push(batch);
      if (opts.confirm !== false && batch.checkpoint !== null) {
        await source.confirm(batch.checkpoint);
      }
    }
  })().catch((err) => failed = err);
  await waitFor(() => source.ready() || failed !== undefined, "the WAL stream to start");
  if (failed) throw failed;
  const envelopes = () => batches.flatMap((b) => b.envelopes);
  return {
    source,
    batches,
    envelopes,
    waitForEnvelopes: (n) =>
      waitFor(() => {
        if (failed) throw failed;
        return envelopes().length >= n ? envelopes() : undefined;
      }, `${n} envelopes`),
    stop: async () => {
      ac.abort();
      await running;
      await source.close();
    },
    failure: () => failed,
  };
}

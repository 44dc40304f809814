/**
 * Source → bus, at least once. Batches are published as they come (publishing overlaps with
 * decoding), but a batch's checkpoint is confirmed to its source only after the bus has accepted
 * it *and every batch before it*. A failed publish stops the pipeline before anything later is
 * confirmed; the source then restarts from its last confirmed position.
 */
import { type Bus, messageFor } from "../../lib/bus/bus.ts";
import type { Logger } from "../../lib/log.ts";
import type { Counter, Histogram } from "../../lib/metrics.ts";
import type { Source } from "./source.ts";

export interface PipelineMetrics {
  envelopes: Counter;
  batches: Counter;
  /** Commit at the source → accepted by the bus. */
  lag: Histogram;
}

export interface PipelineDeps {
  source: Source;
  bus: Bus;
  topicPrefix: string;
  log: Logger;
  metrics: PipelineMetrics;
  /** Batches published but not yet confirmed before the pipeline waits for the bus. */
  maxInFlight?: number;
}

/**
 * Runs until the signal aborts (resolves) or the source or bus fails (rejects). On abort it lets
 * every batch already published be confirmed before it closes the source, so a clean stop leaves
 * nothing to deliver twice.
 */
export async function runPipeline(deps: PipelineDeps, signal: AbortSignal): Promise<void> {
  const { source, bus } = deps;
  const maxInFlight = deps.maxInFlight ?? 256;
  const stop = new AbortController();
  let failure: { error: unknown } | undefined;
  let confirmedChain: Promise<void> = Promise.resolve();
  const inFlight: Promise<void>[] = [];
  const settle = () => Promise.all(inFlight);
  const onAbort = () => void settle().finally(() => stop.abort());
  signal.addEventListener("abort", onAbort, { once: true });

  try {
    for await (const batch of source.stream(stop.signal)) {
      if (signal.aborted) await settle(); // confirm what is published while the stream is open
      if (failure || signal.aborted) break;
      const published = bus.publish(batch.envelopes.map((e) => messageFor(deps.topicPrefix, e)));
      published.catch(() => {}); // observed through the chain below
      confirmedChain = confirmedChain.then(async () => {
        await published;
        const now = Date.now();
        for (const e of batch.envelopes) {
          deps.metrics.envelopes.inc({ source: source.name, op: e.op });
          deps.metrics.lag.observe(now - e.source.ts_ms, { source: source.name });
        }
        deps.metrics.batches.inc({ source: source.name });
        await source.confirm(batch.checkpoint);
      });
      const step = confirmedChain.catch((error) => {
        failure ??= { error };
        stop.abort(); // ends the source's stream so the loop notices at once
      });
      inFlight.push(step);
      if (inFlight.length >= maxInFlight) await inFlight.shift();
    }
    await settle();
    if (failure) throw failure.error;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/**
 * Source → bus, at least once. Batches are published as they come (publishing overlaps with
 * decoding), but a batch's checkpoint is confirmed to its source only after the bus has accepted
 * it *and every batch before it*. A failed publish stops the pipeline before anything later is
 * confirmed; the source then restarts from its last confirmed position.
 */
import { type Bus, type BusMessage, Channel, messageFor } from "../../lib/bus/bus.ts";
import type { TableInfo } from "../../lib/catalog.ts";
import { type Envelope, qualifiedTable } from "../../lib/envelope.ts";
import type { Logger } from "../../lib/log.ts";
import type { Counter, Histogram } from "../../lib/metrics.ts";
import { fitEnvelope } from "../../lib/oversize.ts";
import { endSpan, SpanKind, startChildSpan } from "../../lib/tracing.ts";
import type { Source } from "./source.ts";

export interface PipelineMetrics {
  envelopes: Counter;
  batches: Counter;
  /** Commit at the source → accepted by the bus. */
  lag: Histogram;
  /** Changes published without their largest values, to fit the bus. */
  oversize: Counter;
}

export interface PipelineDeps {
  source: Source;
  bus: Bus;
  topicPrefix: string;
  log: Logger;
  metrics: PipelineMetrics;
  /** Envelopes published but not yet confirmed before the pipeline waits for the bus. */
  maxInFlight?: number;
  /** The largest envelope the bus takes whole (lib/oversize.ts); default 1 MiB. */
  maxEnvelopeBytes?: number;
  /** The catalog entry of a table of the source, for buses that write typed records. */
  tableOf?: (qualified: string) => TableInfo | undefined;
}

/**
 * Runs until the signal aborts (resolves) or the source or bus fails (rejects). On abort it lets
 * every batch already published be confirmed before it closes the source, so a clean stop leaves
 * nothing to deliver twice.
 */
export async function runPipeline(deps: PipelineDeps, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return; // stopped before it started: nothing to confirm
  const { source, bus } = deps;
  const maxInFlight = deps.maxInFlight ?? 1_000;
  // This run's publishes in order: once one fails, none after it is accepted (see Channel).
  const channel = new Channel();
  const toMessage = (e: Envelope, headers?: Record<string, string>): BusMessage => {
    const table = deps.tableOf?.(qualifiedTable(e.source));
    const m = messageFor(deps.topicPrefix, e, { table, headers });
    const fit = fitEnvelope(e, m.value!, deps.maxEnvelopeBytes ?? 1024 * 1024);
    if (!fit.oversize) return m;
    deps.metrics.oversize.inc({ source: source.name });
    deps.log.warn("a change too large for the bus goes out without its largest values", {
      id: e.id,
      table: `${e.source.schema ?? e.source.db}.${e.source.table}`,
      columns: fit.oversize.columns,
      bytes: fit.oversize.bytes,
    });
    return { ...m, value: fit.json, envelope: fit.envelope };
  };
  const stop = new AbortController();
  let failure: { error: unknown } | undefined;
  let confirmedChain: Promise<void> = Promise.resolve();
  const inFlight: { step: Promise<void>; size: number }[] = [];
  let inFlightSize = 0;
  const settle = () => Promise.all(inFlight.map((f) => f.step));
  const onAbort = () => void settle().finally(() => stop.abort());
  signal.addEventListener("abort", onAbort, { once: true });

  try {
    for await (const batch of source.stream(stop.signal)) {
      if (signal.aborted) await settle(); // confirm what is published while the stream is open
      if (failure || signal.aborted) break;
      // A traced transaction's span lasts until the bus has it; its context rides in the headers.
      const traced = startChildSpan("listener.publish", batch.trace, {
        kind: SpanKind.PRODUCER,
        attributes: { "synchub.source": source.name, "synchub.changes": batch.envelopes.length },
      });
      const headers = traced?.traceparent ? { traceparent: traced.traceparent } : undefined;
      const published = bus.publish(batch.envelopes.map((e) => toMessage(e, headers)), channel);
      published.then(() => endSpan(traced?.span), (err) => endSpan(traced?.span, err));
      confirmedChain = confirmedChain.then(async () => {
        await published;
        countBatch(deps.metrics, source.name, batch.envelopes);
        if (batch.checkpoint !== null) await source.confirm(batch.checkpoint);
      });
      const step = confirmedChain.catch((error) => {
        failure ??= { error };
        stop.abort(); // ends the source's stream so the loop notices at once
      });
      // A batch counts at least once, so a run of empty transactions is bounded too.
      const size = Math.max(1, batch.envelopes.length);
      inFlight.push({ step, size });
      inFlightSize += size;
      while (inFlightSize > maxInFlight && inFlight.length > 1) {
        const oldest = inFlight.shift()!;
        inFlightSize -= oldest.size;
        await oldest.step;
      }
    }
    await settle();
    if (failure) throw failure.error;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** Metrics once per batch: a transaction's envelopes share their commit time. */
function countBatch(metrics: PipelineMetrics, source: string, envelopes: readonly Envelope[]) {
  const ops = new Map<string, number>();
  for (const e of envelopes) ops.set(e.op, (ops.get(e.op) ?? 0) + 1);
  for (const [op, n] of ops) metrics.envelopes.inc({ source, op }, n);
  metrics.batches.inc({ source });
  const first = envelopes[0];
  if (first) metrics.lag.observe((Date.now() - first.source.ts_ms) / 1000, { source });
}

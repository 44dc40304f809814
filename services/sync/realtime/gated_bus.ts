/**
 * The in-process bus as the captures see it, with one difference: a publish of a capture's
 * envelopes resolves only once the sync has committed them on the other side (or dropped them).
 * The listener's pipeline confirms a source position only after its publish resolved, so the
 * binlog position stored and the slot's confirmed LSN never pass a change the target does not
 * have (SPEC §8.2 "Nothing lost"). The followers themselves take records at once, so the
 * workers can group many small source transactions into one target transaction. Each capture
 * publishes on a bus of its own, so one direction's backpressure never holds up the other's.
 */
import type {
  Bus,
  BusMessage,
  BusRecord,
  Channel,
  Offsets,
  RecordsHandler,
} from "../../../lib/bus/bus.ts";
import type { Envelope } from "../../../lib/envelope.ts";

export interface CommitGate {
  /** Resolves once everything up to `e` is committed on the target; rejects when stopping. */
  committed(e: Envelope): Promise<void>;
}

/** Where one capture's envelopes go, and what its publishes wait for. */
export interface CaptureLane {
  readonly bus: Bus;
  readonly gate: CommitGate;
}

export class GatedBus implements Bus {
  readonly transport: Bus["transport"];

  /** `inner` carries everything that is not a capture's envelopes (the catalog). */
  constructor(
    private readonly inner: Bus,
    private readonly laneOf: (source: string) => CaptureLane | undefined,
  ) {
    this.transport = inner.transport;
  }

  get epoch(): string {
    return this.inner.epoch;
  }

  async publish(messages: readonly BusMessage[], channel?: Channel): Promise<void> {
    // A pipeline's publish holds one source's envelopes (or none: the catalog).
    const last = messages.at(-1)?.envelope;
    const lane = last && this.laneOf(last.source.name);
    if (!lane) return await this.inner.publish(messages, channel);
    await lane.bus.publish(messages, channel);
    await lane.gate.committed(last);
  }

  connect(signal?: AbortSignal): Promise<void> {
    return this.inner.connect(signal);
  }

  ensureTopic(topic: string, opts?: { compacted?: boolean }): Promise<void> {
    return this.inner.ensureTopic(topic, opts);
  }

  follow(onRecords: RecordsHandler, signal: AbortSignal): Promise<ReadonlyMap<string, Offsets>> {
    return this.inner.follow(onRecords, signal);
  }

  range(topic: string): Promise<{ start: Offsets; end: Offsets }> {
    return this.inner.range(topic);
  }

  read(topic: string, from: Offsets, to: Offsets): AsyncIterable<readonly BusRecord[]> {
    return this.inner.read(topic, from, to);
  }

  ready(): boolean {
    return this.inner.ready();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

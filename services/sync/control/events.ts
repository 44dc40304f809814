/**
 * The SSE side of the control API (SPEC §8.3 `GET /api/v1/sync/stream`): one hub that numbers each
 * event, encodes it once and hands the same bytes to every viewer. Each viewer is a stream with a
 * bounded byte queue; a viewer that lets it fill is dropped (its EventSource reconnects with
 * `Last-Event-ID` and is replayed what it missed). A bounded ring keeps the events of the current
 * and the previous run for those replays (bounded: the oldest go first). One heartbeat timer serves all viewers.
 *
 * Ids are `<boot>.<seq>`: an id from before a restart (another boot) or older than the ring is a
 * gap, answered with a fresh `status` event so the viewer reloads what it shows.
 */
export const EVENT_TYPES = ["status", "progress", "conflict", "completed", "failed"] as const;
export type SyncEventType = (typeof EVENT_TYPES)[number];

export interface SyncEvent {
  readonly id: string;
  readonly seq: number;
  readonly type: SyncEventType;
  readonly frame: Uint8Array;
}

export interface EventHubOptions {
  /**
   * Events kept for replay. A run publishes at most ~102 per table (progress is sent per percent)
   * plus its first conflicts, so the default holds the current and the previous run of any
   * reasonable configuration.
   */
  capacity?: number;
  /** Bytes a viewer may have waiting before it is dropped. */
  viewerQueueBytes?: number;
  /** A comment line to every viewer this often, so proxies and browsers keep the stream. */
  heartbeatMs?: number;
  /** The `status` a new viewer (or one back from a gap) starts with. */
  snapshot: () => unknown;
  onViewerDropped?: () => void;
  /** Hears every event published, e.g. to pass run outcomes on as hub events. */
  forward?: ((type: SyncEventType, data: unknown) => void) | undefined;
}

const encoder = new TextEncoder();
const HEARTBEAT = encoder.encode(": heartbeat\n\n");

interface Viewer {
  controller: ReadableStreamDefaultController<Uint8Array>;
}

export class EventHub {
  readonly boot = Date.now().toString(36);
  #seq = 0;
  #ring: SyncEvent[] = [];
  readonly #viewers = new Set<Viewer>();
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  readonly #capacity: number;
  readonly #queueBytes: number;
  readonly #heartbeatMs: number;

  constructor(private readonly opts: EventHubOptions) {
    this.#capacity = opts.capacity ?? 20_000;
    this.#queueBytes = opts.viewerQueueBytes ?? 1 << 20;
    this.#heartbeatMs = opts.heartbeatMs ?? 15_000;
  }

  get viewers(): number {
    return this.#viewers.size;
  }

  get lastId(): string {
    return `${this.boot}.${this.#seq}`;
  }

  publish(type: SyncEventType, data: unknown): SyncEvent {
    const seq = ++this.#seq;
    const event = {
      id: `${this.boot}.${seq}`,
      seq,
      type,
      frame: frameOf(`${this.boot}.${seq}`, type, data),
    };
    this.#ring.push(event);
    this.#trim();
    for (const v of this.#viewers) this.#send(v, event.frame);
    this.opts.forward?.(type, data);
    return event;
  }

  /** The events after `lastEventId`, or `gap` when they are no longer (or never were) here. */
  replayAfter(lastEventId: string): SyncEvent[] | "gap" {
    const m = /^([0-9a-z]+)\.(\d+)$/.exec(lastEventId.trim());
    if (!m || m[1] !== this.boot) return "gap";
    const seq = Number(m[2]);
    if (seq > this.#seq) return "gap";
    const first = this.#ring[0]?.seq ?? this.#seq + 1;
    if (seq < first - 1) return "gap";
    return this.#ring.slice(seq - first + 1);
  }

  /** A viewer's stream: a retry hint, then the replay (or a `status` snapshot), then live events. */
  open(lastEventId: string | null): ReadableStream<Uint8Array> {
    let viewer: Viewer | undefined;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        if (this.#closed) return controller.close();
        controller.enqueue(encoder.encode("retry: 2000\n\n"));
        const replay = lastEventId === null ? "gap" : this.replayAfter(lastEventId);
        if (replay === "gap") {
          controller.enqueue(frameOf(this.lastId, "status", this.opts.snapshot()));
        } else {
          for (const e of replay) controller.enqueue(e.frame);
        }
        viewer = { controller };
        this.#viewers.add(viewer);
        this.#startHeartbeat();
      },
      cancel: () => {
        if (viewer) this.#viewers.delete(viewer);
      },
    }, new ByteLengthQueuingStrategy({ highWaterMark: this.#queueBytes }));
  }

  /** Ends every stream (at shutdown); later viewers get an empty stream. */
  close(): void {
    this.#closed = true;
    for (const v of this.#viewers) {
      try {
        v.controller.close();
      } catch { /* already gone */ }
    }
    this.#viewers.clear();
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  #send(v: Viewer, frame: Uint8Array): void {
    const room = v.controller.desiredSize;
    if (room !== null && room <= 0) {
      // Too slow: drop it rather than buffer without bound; it reconnects and is replayed.
      this.#viewers.delete(v);
      try {
        v.controller.error(new Error("viewer too slow"));
      } catch { /* gone */ }
      this.opts.onViewerDropped?.();
      return;
    }
    try {
      v.controller.enqueue(frame);
    } catch {
      this.#viewers.delete(v);
    }
  }

  #startHeartbeat(): void {
    if (this.#heartbeat !== undefined) return;
    this.#heartbeat = setInterval(() => {
      if (this.#viewers.size === 0) {
        clearInterval(this.#heartbeat);
        this.#heartbeat = undefined;
        return;
      }
      for (const v of this.#viewers) this.#send(v, HEARTBEAT);
    }, this.#heartbeatMs);
    Deno.unrefTimer(this.#heartbeat as unknown as number);
  }

  #trim(): void {
    // Cut in slices once past capacity by an eighth, so a full ring costs no O(n) per event.
    if (this.#ring.length > this.#capacity + (this.#capacity >> 3)) {
      this.#ring = this.#ring.slice(-this.#capacity);
    }
  }
}

function frameOf(id: string, type: SyncEventType, data: unknown): Uint8Array {
  return encoder.encode(`id: ${id}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
}

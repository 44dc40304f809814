/**
 * Outgoing bytes of one connection. Frames are queued, not written: once per tick (a microtask
 * after the code that queued them) every connection with something queued is written with one
 * `write` of all its frames, so a fan-out of many changes costs one syscall per socket. While a
 * write is in flight new frames wait and go in the next one. `bytes` counts what is queued and
 * not yet taken by the kernel: it grows while the peer does not read, and the caller decides
 * when that is too much.
 */

/** The largest write assembled from queued frames; a larger frame is written alone. */
const MAX_BATCH = 256 * 1024;

/** Where an outbox writes: a Transport. */
export interface ByteSink {
  /** Writes all of `data`; `done` once it is handed to the kernel, or has failed. */
  write(data: Uint8Array, done: (err?: unknown) => void): void;
}

export interface OutboxOwner {
  /** Everything queued has been written. */
  drained(): void;
  /** A write failed: the connection is gone. */
  writeFailed(err: unknown): void;
}

/** Runs the flush of every outbox that got frames during this tick, in one microtask. */
export class FlushScheduler {
  private due: Outbox[] = [];
  private scheduled = false;

  schedule(outbox: Outbox): void {
    this.due.push(outbox);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(this.run);
  }

  private readonly run = (): void => {
    this.scheduled = false;
    const due = this.due;
    this.due = [];
    for (const outbox of due) outbox.flush();
  };
}

export class Outbox {
  /** Bytes queued and not yet written (the connection's bufferedAmount). */
  bytes = 0;
  // One frame alone (the fan-out case: no array per write), or several.
  private frames: Uint8Array | Uint8Array[] | undefined;
  private head = 0; // frames before this index are taken
  private writing = false;
  private scheduled = false;

  constructor(
    private readonly sink: ByteSink,
    private readonly scheduler: FlushScheduler,
    private readonly owner: OutboxOwner,
  ) {}

  /** Queues a frame; the same bytes may be queued on any number of outboxes. */
  push(frame: Uint8Array): void {
    if (this.frames === undefined) this.frames = frame;
    else if (Array.isArray(this.frames)) this.frames.push(frame);
    else this.frames = [this.frames, frame];
    this.bytes += frame.length;
    if (!this.writing && !this.scheduled) {
      this.scheduled = true;
      this.scheduler.schedule(this);
    }
  }

  /** Nothing queued and no write in flight. */
  get idle(): boolean {
    return !this.writing && this.frames === undefined;
  }

  /** Drops whatever is queued (the connection is gone). */
  clear(): void {
    this.frames = undefined;
    this.head = 0;
    this.bytes = 0;
  }

  flush(): void {
    this.scheduled = false;
    if (this.writing || this.frames === undefined) return;
    this.writing = true;
    this.write(this.take());
  }

  private write(data: Uint8Array): void {
    this.sink.write(data, (err) => this.wrote(data.length, err));
  }

  private wrote(n: number, err?: unknown): void {
    if (err !== undefined && err !== null) {
      this.writing = false;
      this.clear();
      this.owner.writeFailed(err);
      return;
    }
    this.bytes = Math.max(0, this.bytes - n); // cleared meanwhile: stays at 0
    if (this.frames !== undefined) return this.write(this.take());
    this.writing = false;
    this.owner.drained();
  }

  /** The next write: one frame as it is (no copy), or several copied into one buffer. */
  private take(): Uint8Array {
    const frames = this.frames!;
    if (!Array.isArray(frames)) {
      this.frames = undefined;
      return frames;
    }
    let end = this.head, size = 0;
    while (end < frames.length && (end === this.head || size + frames[end]!.length <= MAX_BATCH)) {
      size += frames[end++]!.length;
    }
    let out: Uint8Array;
    if (end - this.head === 1) {
      out = frames[this.head]!;
    } else {
      out = new Uint8Array(size);
      let at = 0;
      for (let i = this.head; i < end; i++) {
        out.set(frames[i]!, at);
        at += frames[i]!.length;
      }
    }
    if (end === frames.length) {
      this.frames = undefined;
      this.head = 0;
    } else {
      this.head = end;
      if (this.head > 1024 && this.head * 2 > frames.length) { // keep the array from growing forever
        this.frames = frames.slice(this.head);
        this.head = 0;
      }
    }
    return out;
  }
}

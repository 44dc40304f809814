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

/** 64 KiB write buffers, reused across the server's connections instead of allocated per tick. */
class BufferPool {
  private readonly free: Uint8Array[] = [];
  /** Only buffers made here come back: a frame queued by a caller is never reused. */
  private readonly mine = new WeakSet<ArrayBufferLike>();

  constructor(private readonly keep: number) {}

  take(): Uint8Array {
    const reused = this.free.pop();
    if (reused) return reused;
    const made = new Uint8Array(CHUNK);
    this.mine.add(made.buffer);
    return made;
  }

  give(buffer: ArrayBufferLike): void {
    if (this.mine.has(buffer) && this.free.length < this.keep) {
      this.free.push(new Uint8Array(buffer));
    }
  }
}

const CHUNK = 64 * 1024;
const FIRST_TAIL = 4 * 1024;
const encoder = new TextEncoder();

/** Runs the flush of every outbox that got frames during this tick, in one microtask. */
export class FlushScheduler {
  private due: Outbox[] = [];
  private scheduled = false;
  /** Write buffers for text frames encoded in place (at most 4 MiB kept). */
  readonly buffers = new BufferPool(64);

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
  /**
   * Where text frames are encoded in place (`pushText`): a buffer of ours, queued as a frame
   * once something else is queued after it or it is written. Its size grows while the
   * connection is busy (4 KiB, doubling to 64 KiB pooled ones) and starts small again once idle.
   */
  private tail: Uint8Array | undefined;
  private tailLength = 0;
  private tailSize = FIRST_TAIL;
  /** Buffers of ours inside the write in flight: back to the pool once the kernel has them. */
  private lent: ArrayBufferLike[] = [];

  constructor(
    private readonly sink: ByteSink,
    private readonly scheduler: FlushScheduler,
    private readonly owner: OutboxOwner,
  ) {}

  /** Queues a frame; the same bytes may be queued on any number of outboxes. */
  push(frame: Uint8Array): void {
    this.closeTail();
    this.enqueue(frame);
    this.bytes += frame.length;
    this.schedule();
  }

  /**
   * Queues the text frame `prefix + body + suffix`, encoded straight into this connection's
   * write buffer: no string concatenation, no allocation per frame.
   */
  pushText(prefix: string, body = "", suffix = ""): void {
    const worst = 10 + 3 * (prefix.length + body.length + suffix.length);
    if (this.tail === undefined || this.tail.length - this.tailLength < worst) {
      this.closeTail();
      this.tail = this.newTail(worst);
    }
    const tail = this.tail, at = this.tailLength;
    // Encoded after room for the longest header, then moved up against the header it needs.
    let end = at + 10;
    end += encoder.encodeInto(prefix, tail.subarray(end)).written!;
    if (body) end += encoder.encodeInto(body, tail.subarray(end)).written!;
    if (suffix) end += encoder.encodeInto(suffix, tail.subarray(end)).written!;
    const len = end - at - 10;
    const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
    tail.copyWithin(at + head, at + 10, end);
    tail[at] = 0x81; // FIN, text
    if (head === 2) {
      tail[at + 1] = len;
    } else if (head === 4) {
      tail[at + 1] = 126;
      tail[at + 2] = len >>> 8;
      tail[at + 3] = len & 0xff;
    } else {
      tail[at + 1] = 127;
      new DataView(tail.buffer, tail.byteOffset).setBigUint64(at + 2, BigInt(len));
    }
    this.tailLength = at + head + len;
    this.bytes += head + len;
    this.schedule();
  }

  /** Nothing queued and no write in flight. */
  get idle(): boolean {
    return !this.writing && this.frames === undefined && this.tailLength === 0;
  }

  /** Drops whatever is queued (the connection is gone). */
  clear(): void {
    this.frames = undefined;
    this.head = 0;
    this.bytes = 0;
    this.tail = undefined;
    this.tailLength = 0;
  }

  flush(): void {
    this.scheduled = false;
    if (this.writing) return;
    this.closeTail();
    if (this.frames === undefined) return;
    this.writing = true;
    this.write(this.take());
  }

  private schedule(): void {
    if (!this.writing && !this.scheduled) {
      this.scheduled = true;
      this.scheduler.schedule(this);
    }
  }

  private newTail(worst: number): Uint8Array {
    const size = Math.max(this.tailSize, worst);
    this.tailSize = Math.min(this.tailSize * 2, CHUNK);
    this.tailLength = 0;
    return size === CHUNK ? this.scheduler.buffers.take() : new Uint8Array(size);
  }

  /** Queues what the tail holds, as one frame of many; text after it goes to a new tail. */
  private closeTail(): void {
    if (this.tail === undefined) return;
    if (this.tailLength > 0) this.enqueue(this.tail.subarray(0, this.tailLength));
    this.tail = undefined;
    this.tailLength = 0;
  }

  private enqueue(frame: Uint8Array): void {
    if (this.frames === undefined) this.frames = frame;
    else if (Array.isArray(this.frames)) this.frames.push(frame);
    else this.frames = [this.frames, frame];
  }

  private write(data: Uint8Array): void {
    this.sink.write(data, (err) => this.wrote(data.length, err));
  }

  private wrote(n: number, err?: unknown): void {
    for (const buffer of this.lent.splice(0)) this.scheduler.buffers.give(buffer);
    if (err !== undefined && err !== null) {
      this.writing = false;
      this.clear();
      this.owner.writeFailed(err);
      return;
    }
    this.bytes = Math.max(0, this.bytes - n); // cleared meanwhile: stays at 0
    if (this.tailLength > 0) this.closeTail();
    if (this.frames !== undefined) return this.write(this.take());
    this.writing = false;
    this.tailSize = FIRST_TAIL; // idle: the next burst starts with a small buffer
    this.owner.drained();
  }

  /** The next write: one frame as it is (no copy), or several copied into one buffer. */
  private take(): Uint8Array {
    const frames = this.frames!;
    if (!Array.isArray(frames)) {
      this.frames = undefined;
      this.lend(frames);
      return frames;
    }
    let end = this.head, size = 0;
    while (end < frames.length && (end === this.head || size + frames[end]!.length <= MAX_BATCH)) {
      size += frames[end++]!.length;
    }
    let out: Uint8Array;
    if (end - this.head === 1) {
      out = frames[this.head]!;
      this.lend(out);
    } else {
      out = new Uint8Array(size);
      let at = 0;
      for (let i = this.head; i < end; i++) {
        out.set(frames[i]!, at);
        at += frames[i]!.length;
        this.scheduler.buffers.give(frames[i]!.buffer); // copied: a pooled one is free again
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

  /** A buffer being written goes back to the pool (if it is one of its) when the write completes. */
  private lend(frame: Uint8Array): void {
    this.lent.push(frame.buffer);
  }
}

/**
 * Retained records of the in-process bus, held as UTF-8 in byte segments outside the JavaScript
 * heap. Kept as strings, a bus's history is most of the heap, and V8 lets a heap grow to several
 * times what it holds before collecting it: a 64 MB history cost 300–700 MB of resident memory
 * under load. In segments it costs what it weighs, the garbage collector never walks it, and the
 * segments are reused instead of freed and allocated again.
 *
 * A topic's log is a list of segments; each holds consecutive records (`key`, `value` or null,
 * timestamp). A segment starts small and doubles up to `segmentBytes`, so a quiet table costs a
 * few kilobytes. Records are decoded back into strings only when someone reads history.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const HEADER = 8; // key length (u32), value length (i32, -1 for a tombstone)
const FIRST_BYTES = 4096;

export interface StoredRecord {
  key: string;
  value: string | null;
  offset: number;
  timestamp: number;
}

/** Segments of the largest size, kept for reuse once their records expire. */
export class SegmentPool {
  private readonly free: Uint8Array[] = [];

  constructor(readonly segmentBytes: number, private readonly keep: number) {}

  take(bytes: number): Uint8Array {
    if (bytes === this.segmentBytes) {
      const reused = this.free.pop();
      if (reused) return reused;
    }
    return new Uint8Array(bytes);
  }

  give(buffer: Uint8Array): void {
    if (buffer.byteLength === this.segmentBytes && this.free.length < this.keep) {
      this.free.push(buffer);
    }
  }
}

class Segment {
  /** Byte position of each record; a record ends where the next starts (or at `used`). */
  readonly starts: number[] = [];
  readonly stamps: number[] = [];
  used = 0;

  constructor(public bytes: Uint8Array, readonly firstOffset: number) {}

  get count(): number {
    return this.starts.length;
  }

  get capacity(): number {
    return this.bytes.byteLength;
  }

  /** Writes the record at the end; false when it does not fit (nothing is kept then). */
  tryAppend(key: string, value: string | null, timestamp: number): boolean {
    const at = this.used;
    if (this.capacity - at < HEADER + key.length + (value?.length ?? 0)) return false;
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset);
    const k = encoder.encodeInto(key, this.bytes.subarray(at + HEADER));
    if (k.read! < key.length) return false;
    let valueLength = -1;
    if (value !== null) {
      const v = encoder.encodeInto(value, this.bytes.subarray(at + HEADER + k.written!));
      if (v.read! < value.length) return false;
      valueLength = v.written!;
    }
    view.setUint32(at, k.written!);
    view.setInt32(at + 4, valueLength);
    this.used = at + HEADER + k.written! + Math.max(0, valueLength);
    this.starts.push(at);
    this.stamps.push(timestamp);
    return true;
  }

  record(index: number): StoredRecord {
    const at = this.starts[index]!;
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset);
    const keyLength = view.getUint32(at);
    const valueLength = view.getInt32(at + 4);
    const keyAt = at + HEADER;
    const valueAt = keyAt + keyLength;
    return {
      key: decoder.decode(this.bytes.subarray(keyAt, valueAt)),
      value: valueLength < 0
        ? null
        : decoder.decode(this.bytes.subarray(valueAt, valueAt + valueLength)),
      offset: this.firstOffset + index,
      timestamp: this.stamps[index]!,
    };
  }
}

/** Bytes a record needs at most (UTF-8 takes up to three bytes per UTF-16 unit). */
function worstCase(key: string, value: string | null): number {
  return HEADER + 3 * (key.length + (value?.length ?? 0));
}

/** One topic's retained records, in offset order. */
export class SegmentLog {
  private readonly segments: Segment[] = [];
  /** Records of the first segment already expired (dropped one by one, freed with the segment). */
  private skipped = 0;
  /** Offset the next record gets. */
  next = 0;
  /** Bytes of the segments held. */
  bytes = 0;

  constructor(private readonly pool: SegmentPool) {}

  /** Offset of the oldest retained record. */
  get start(): number {
    const first = this.segments[0];
    return first ? first.firstOffset + this.skipped : this.next;
  }

  /** Timestamp of the oldest retained record. */
  oldestTimestamp(): number | undefined {
    return this.segments[0]?.stamps[this.skipped];
  }

  append(key: string, value: string | null, timestamp: number): number {
    const offset = this.next++;
    const last = this.segments.at(-1);
    if (last && last.tryAppend(key, value, timestamp)) return offset;
    if (last && this.grow(last, worstCase(key, value))) {
      if (last.tryAppend(key, value, timestamp)) return offset;
    }
    const need = worstCase(key, value);
    // A topic that filled a segment of the largest size is busy: its next one starts there too.
    const busy = last !== undefined && last.capacity >= this.pool.segmentBytes;
    const size = busy ? Math.max(need, this.pool.segmentBytes) : this.sizeFor(need);
    const segment = new Segment(this.pool.take(size), offset);
    this.segments.push(segment);
    this.bytes += segment.capacity;
    segment.tryAppend(key, value, timestamp);
    return offset;
  }

  /** Drops the oldest record; its bytes come back when the last record of its segment goes. */
  dropOldest(): void {
    const first = this.segments[0];
    if (!first) return;
    if (++this.skipped >= first.count) this.dropSegment();
  }

  /** Drops the oldest segment whole (the byte budget frees memory a segment at a time). */
  dropSegment(): void {
    const first = this.segments.shift();
    if (!first) return;
    this.skipped = 0;
    this.release(first);
  }

  /** Records from offset `from` up to, not including, `to`. */
  slice(from: number, to: number): StoredRecord[] {
    const out: StoredRecord[] = [];
    from = Math.max(from, this.start);
    for (const segment of this.segments) {
      const end = segment.firstOffset + segment.count;
      if (end <= from) continue;
      if (segment.firstOffset >= to) break;
      const last = Math.min(to, end);
      for (let at = from; at < last; at++) out.push(segment.record(at - segment.firstOffset));
      from = last;
    }
    return out;
  }

  /** Frees every segment. */
  clear(): void {
    for (const s of this.segments.splice(0)) this.release(s);
    this.skipped = 0;
  }

  /** A new segment's size: small for a quiet topic, exact for a record larger than a segment. */
  private sizeFor(need: number): number {
    const largest = this.pool.segmentBytes;
    if (need > largest) return need;
    let size = Math.min(FIRST_BYTES, largest);
    while (size < need) size *= 2;
    return Math.min(size, largest);
  }

  /** Doubles the newest segment while it is below the largest size; false when it is not. */
  private grow(segment: Segment, need: number): boolean {
    if (segment.capacity >= this.pool.segmentBytes) return false;
    let size = segment.capacity * 2;
    while (size < segment.used + need && size < this.pool.segmentBytes) size *= 2;
    size = Math.min(size, this.pool.segmentBytes);
    const bigger = this.pool.take(size);
    bigger.set(segment.bytes.subarray(0, segment.used));
    this.bytes += size - segment.capacity;
    this.pool.give(segment.bytes);
    segment.bytes = bigger;
    return true;
  }

  private release(segment: Segment): void {
    this.bytes -= segment.capacity;
    this.pool.give(segment.bytes);
  }
}

/** A bench client that timestamps every change it receives, by row id. */
import { RawWsClient } from "./raw_ws.ts";

export const now = () => performance.timeOrigin + performance.now(); // ms since the epoch, sub-ms

const CHANGE = new TextEncoder().encode('{"type":"change"');
const KEY = new TextEncoder().encode('"key":{"id":');

export class BenchClient {
  /** Receipt time (epoch ms) of the first change seen per row id (unless counting only). */
  readonly received = new Map<number, number>();
  /** Counting only (millions of rows): which ids were seen, and how many. */
  private seen: Uint8Array | undefined;
  seenCount = 0;
  synced: number | undefined;
  private replies = new Map<string, (f: Record<string, unknown>) => void>();
  private client!: RawWsClient;

  get closed() {
    return this.client.closed;
  }

  static async connect(
    url: string,
    token: string,
    opts: { countOnly?: boolean } = {},
  ): Promise<BenchClient> {
    const b = new BenchClient();
    if (opts.countOnly) b.seen = new Uint8Array(1 << 20);
    b.client = await RawWsClient.connect(
      `${url}?token=${token}`,
      (payload, t) => b.frame(payload, t),
    );
    return b;
  }

  /**
   * Change frames are only timestamped: the row id is read from the bytes without decoding the
   * frame, so the client spends its CPU on receiving rather than on the harness.
   */
  private frame(payload: Uint8Array, t: number): void {
    if (startsWith(payload, CHANGE)) {
      const id = rowId(payload);
      if (this.seen) return this.count(id);
      if (!this.received.has(id)) this.received.set(id, t);
      return;
    }
    const f = JSON.parse(new TextDecoder().decode(payload));
    if (f.type === "synced") this.synced = t;
    else if (f.ref) this.replies.get(f.ref)?.(f);
  }

  subscribe(table: string, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const ref = crypto.randomUUID();
    return new Promise((resolve, reject) => {
      this.replies.set(
        ref,
        (f) => (f.type === "subscribed" ? resolve(f) : reject(new Error(JSON.stringify(f)))),
      );
      this.client.sendText(JSON.stringify({ type: "subscribe", ref, table, ...extra })).catch(
        reject,
      );
    });
  }

  close(): void {
    this.client.close();
  }

  private count(id: number): void {
    let seen = this.seen!;
    if (id >= seen.length) {
      const grown = new Uint8Array(Math.max(seen.length * 2, id + 1));
      grown.set(seen);
      this.seen = seen = grown;
    }
    if (seen[id] === 0) {
      seen[id] = 1;
      this.seenCount++;
    }
  }
}

/** The numeric `id` of the envelope's key in a change frame (`…"key":{"id":123}…`). */
export function rowId(frame: Uint8Array): number {
  const at = search(frame, KEY);
  if (at < 0) throw new Error("change frame without a key id");
  let n = 0;
  for (let i = at + KEY.length; i < frame.length; i++) {
    const c = frame[i]!;
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
  }
  return n;
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

function search(bytes: Uint8Array, needle: Uint8Array): number {
  const first = needle[0]!;
  for (
    let i = bytes.indexOf(first);
    i >= 0 && i + needle.length <= bytes.length;
    i = bytes.indexOf(first, i + 1)
  ) {
    let j = 1;
    while (j < needle.length && bytes[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

/** Waits until `done()` holds, or gives up after `ms` (the bench reports what arrived). */
export async function until(done: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

/**
 * Transport on `Deno.listen`: one pending `read` per connection into a small buffer that grows
 * while data streams in and shrinks back when quiet; each write is one `conn.write` promise.
 */
import type { Listen, Transport, TransportEvents } from "./transport.ts";

const IDLE_READ_BYTES = 512;
const MAX_READ_BYTES = 64 * 1024;

class DenoTransport implements Transport {
  readonly closed: Promise<void>;
  private events: TransportEvents | undefined;
  private started: (() => void) | undefined;
  private isClosed = false;

  private closedByUs: (() => void) | undefined;

  constructor(private readonly conn: Deno.TcpConn) {
    const start = new Promise<void>((r) => this.started = r);
    const shut = new Promise<void>((r) => this.closedByUs = r);
    this.closed = Promise.all([start.then(() => this.read()), shut]).then(() => {});
  }

  get remoteAddr(): Deno.NetAddr {
    return this.conn.remoteAddr;
  }

  get localAddr(): Deno.NetAddr {
    return this.conn.localAddr;
  }

  listen(events: TransportEvents): void {
    this.events = events;
    this.started?.();
    this.started = undefined;
  }

  write(data: Uint8Array, done: (err?: unknown) => void): void {
    let pending: Promise<number>;
    try {
      pending = this.conn.write(data);
    } catch (err) {
      return done(err);
    }
    pending.then((n) => n < data.length ? this.write(data.subarray(n), done) : done(), done);
  }

  closeWrite(): void {
    this.conn.closeWrite().catch(() => {});
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closedByUs?.();
    this.started?.(); // never listened: let `closed` settle
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }

  private async read(): Promise<void> {
    let buf = new Uint8Array(IDLE_READ_BYTES);
    let failure: unknown;
    try {
      while (!this.isClosed) {
        const n = await this.conn.read(buf);
        if (n === null) break;
        this.events!.onData(buf.subarray(0, n));
        // A full buffer means more is waiting: read bigger; back to small once quiet.
        if (n === buf.length && buf.length < MAX_READ_BYTES) buf = new Uint8Array(buf.length * 8);
        else if (n < IDLE_READ_BYTES && buf.length > IDLE_READ_BYTES) {
          buf = new Uint8Array(IDLE_READ_BYTES);
        }
      }
    } catch (err) {
      failure = err;
    }
    if (!this.isClosed) this.events?.onEnd(failure);
  }
}

export const listenDeno: Listen = (options) => {
  const listener = Deno.listen({ hostname: options.hostname, port: options.port });
  let stopping = false;
  const accepting = (async () => {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (stopping || err instanceof Deno.errors.BadResource) return;
        options.onError(err); // out of file descriptors, say: keep serving, try again shortly
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      conn.setNoDelay(true); // writes are coalesced already; Nagle would hold them for an ACK
      options.onConnection(new DenoTransport(conn));
    }
  })();
  return Promise.resolve({
    addr: listener.addr,
    close: async () => {
      stopping = true;
      try {
        listener.close();
      } catch { /* closed */ }
      await accepting;
    },
  });
};

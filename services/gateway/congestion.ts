/**
 * Backpressure from sockets to the bus. When a burst outruns what the gateway can write, the
 * sockets it wrote to fill up; rather than close fast clients as "slow", the gateway makes the
 * bus wait until they drain. A socket that stays full past `patienceMs` is a slow client, not a
 * burst: it is no longer waited for, and is closed (1013) if it reaches its hard limit.
 */

export interface Drainable {
  /** Bytes still queued on the socket. */
  buffered(): number;
  isClosed(): boolean;
}

export class Congestion {
  private readonly waiting = new Map<Drainable, number>(); // socket → when it filled up

  constructor(private readonly softLimit: number, private readonly patienceMs = 250) {}

  /** Called after a write: notes a socket that is above its soft limit. */
  note(socket: Drainable, buffered: number): void {
    if (buffered > this.softLimit && !this.waiting.has(socket)) {
      this.waiting.set(socket, Date.now());
    }
  }

  /** Nothing to wait for (the fast path): undefined; otherwise resolves once drained or given up. */
  wait(): Promise<void> | undefined {
    this.prune();
    if (this.waiting.size === 0) return undefined;
    return (async () => {
      while (this.waiting.size > 0) {
        await new Promise((r) => setTimeout(r, 2));
        this.prune();
      }
    })();
  }

  get size(): number {
    return this.waiting.size;
  }

  private prune(): void {
    const now = Date.now();
    for (const [socket, since] of this.waiting) {
      if (
        socket.isClosed() || socket.buffered() <= this.softLimit || now - since > this.patienceMs
      ) {
        this.waiting.delete(socket);
      }
    }
  }
}

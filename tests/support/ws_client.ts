/** A WebSocket test client that queues what it receives and waits for particular frames. */

// deno-lint-ignore no-explicit-any
export type Frame = Record<string, any>;

export class TestClient {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | undefined;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.onmessage = (e) => {
      this.frames.push(JSON.parse(e.data));
      this.wakeAll();
    };
    ws.onclose = (e) => {
      this.closed = { code: e.code, reason: e.reason };
      this.wakeAll();
    };
  }

  static async connect(url: string, token?: string): Promise<TestClient> {
    const ws = new WebSocket(token ? `${url}?token=${encodeURIComponent(token)}` : url);
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("error", () => reject(new Error(`could not connect to ${url}`)), {
        once: true,
      });
    });
    return client;
  }

  send(message: unknown): void {
    if (typeof message === "string" || message instanceof Uint8Array) this.ws.send(message);
    else this.ws.send(JSON.stringify(message));
  }

  /**
   * The next frame not yet taken that matches, waiting for it if need be. Woken by each frame,
   * so the wait adds no latency; the timeout only stops a broken test from hanging.
   */
  async next(
    match: (f: Frame) => boolean = () => true,
    what = "a frame",
    timeoutMs = 30_000,
  ): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex(match);
      if (i >= 0) return this.frames.splice(i, 1)[0]!;
      if (this.closed) {
        throw new Error(`connection closed (${this.closed.code}) while waiting for ${what}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`gave up waiting for ${what}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      let wake!: () => void;
      await new Promise<void>((resolve) => {
        wake = resolve;
        this.waiters.add(wake);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.waiters.delete(wake);
    }
  }

  private wakeAll(): void {
    for (const wake of this.waiters) wake();
  }

  async reply(ref: string): Promise<Frame> {
    return await this.next((f) => f.ref === ref, `the reply to ${ref}`);
  }

  async subscribe(table: string, extra: Frame = {}): Promise<Frame> {
    const ref = crypto.randomUUID();
    this.send({ type: "subscribe", ref, table, ...extra });
    return await this.reply(ref);
  }

  /**
   * Subscribes once the gateway serves the table: a table is `not_found` until the listener has
   * published it in the catalog, which may come after the services are ready. Any other error
   * fails the test.
   */
  async subscribeWhenServed(table: string, extra: Frame = {}, timeoutMs = 30_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const reply = await this.subscribe(table, extra);
      if (reply.type === "subscribed") return reply;
      if (reply.code !== "not_found" || Date.now() > deadline) {
        throw new Error(`could not subscribe to ${table}: ${JSON.stringify(reply)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Waits for `n` change frames and takes them. */
  async changes(n: number): Promise<Frame[]> {
    const out: Frame[] = [];
    while (out.length < n) {
      out.push(await this.next((f) => f.type === "change", `change ${out.length + 1} of ${n}`));
    }
    return out;
  }

  /** Change frames received but not taken. */
  pendingChanges(): Frame[] {
    return this.frames.filter((f) => f.type === "change");
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.ws.close();
    await this.next(() => false, "the connection to close").catch(() => {});
  }
}

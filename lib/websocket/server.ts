/**
 * An HTTP/1.1 + WebSocket server on raw TCP (`Deno.listen`). Every request goes to a fetch-style
 * handler, which may upgrade it with `upgradeWebSocket`. The server pings quiet connections and
 * drops those that stop answering, and `shutdown(ms)` ends within `ms` whatever the peers do.
 */
import type { Connection } from "./connection.ts";
import { Exchange, type ExchangeHost, type ExchangeLimits, type Handler } from "./http_exchange.ts";
import { FlushScheduler } from "./outbox.ts";

export type { Handler };

export interface WsServerOptions {
  hostname?: string;
  /** 0 (the default) picks a free port; see `addr`. */
  port?: number;
  /** Largest message a client may send, fragments included (default 1 MiB); beyond: close 1009. */
  maxMessageBytes?: number;
  /** A quiet connection is pinged after this long and dropped if still quiet after as long again (default 60; 0: never). */
  idleTimeoutSeconds?: number;
  /** How long a closing handshake may take before the connection is dropped (default 5000). */
  closeTimeoutMs?: number;
  /** How long a request's head and body may take to arrive (default 10000). */
  requestTimeoutMs?: number;
  maxHeaderBytes?: number;
  maxHeaderCount?: number;
  maxRequestBodyBytes?: number;
  /** Connections beyond this many (requests and WebSockets) are closed at once (default: none). */
  maxConnections?: number;
  /** A handler or socket callback threw; defaults to console.error. */
  onError?: (err: unknown) => void;
}

export interface WsServer {
  readonly addr: Deno.NetAddr;
  /** Open WebSocket connections. */
  readonly connections: number;
  /**
   * Stops accepting, closes WebSockets with 1001, lets requests being handled finish, and after
   * `timeoutMs` drops whatever remains. Resolves within the timeout whatever the peers do.
   */
  shutdown(timeoutMs?: number): Promise<void>;
}

export function startWsServer(handler: Handler, options: WsServerOptions = {}): WsServer {
  const listener = Deno.listen({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
  });
  return new Server(listener, handler, options);
}

class Server implements WsServer, ExchangeHost {
  readonly scheduler = new FlushScheduler();
  readonly closeTimeoutMs: number;
  readonly limits: ExchangeLimits;
  stopping = false;
  private readonly sockets = new Set<Connection>();
  private readonly exchanges = new Set<Exchange>();
  private readonly accepting: Promise<void>;
  private readonly sweep: ReturnType<typeof setInterval> | undefined;
  private stopped: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly listener: Deno.TcpListener,
    readonly handler: Handler,
    private readonly options: WsServerOptions,
  ) {
    this.closeTimeoutMs = options.closeTimeoutMs ?? 5000;
    this.limits = {
      maxHeaderBytes: options.maxHeaderBytes ?? 16 * 1024,
      maxHeaderCount: options.maxHeaderCount ?? 100,
      maxRequestBodyBytes: options.maxRequestBodyBytes ?? 1024 * 1024,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      maxMessageBytes: options.maxMessageBytes ?? 1024 * 1024,
    };
    const idle = options.idleTimeoutSeconds ?? 60;
    if (idle > 0) {
      this.sweep = setInterval(() => {
        for (const socket of this.sockets) socket.heartbeat();
      }, idle * 1000);
    }
    this.accepting = this.accept();
  }

  get addr(): Deno.NetAddr {
    return this.listener.addr;
  }

  get connections(): number {
    return this.sockets.size;
  }

  private async accept(): Promise<void> {
    for (;;) {
      let tcp: Deno.TcpConn;
      try {
        tcp = await this.listener.accept();
      } catch (err) {
        if (this.stopping || err instanceof Deno.errors.BadResource) return;
        // Out of file descriptors, say: keep serving, try again shortly.
        this.report(err);
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      const open = this.sockets.size + this.exchanges.size;
      if (this.stopping || open >= (this.options.maxConnections ?? Infinity)) {
        tcp.close();
        continue;
      }
      this.exchanges.add(new Exchange(tcp, this));
    }
  }

  opened(c: Connection): void {
    this.sockets.add(c);
  }

  closed(c: Connection): void {
    this.sockets.delete(c);
    this.checkEmpty();
  }

  ended(x: Exchange): void {
    this.exchanges.delete(x);
    this.checkEmpty();
  }

  report(err: unknown): void {
    (this.options.onError ?? ((e) => console.error("websocket server:", e)))(err);
  }

  private checkEmpty(): void {
    if (this.stopping && this.sockets.size === 0 && this.exchanges.size === 0) this.wake?.();
  }

  shutdown(timeoutMs = 5000): Promise<void> {
    return this.stopped ??= this.stop(timeoutMs);
  }

  private async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    clearInterval(this.sweep);
    try {
      this.listener.close();
    } catch { /* already closed */ }
    const empty = new Promise<void>((r) => this.wake = r);
    for (const x of this.exchanges) x.stop();
    for (const s of this.sockets) s.close(1001, "server shutting down");
    this.checkEmpty();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([empty, new Promise((r) => timer = setTimeout(r, timeoutMs))]);
    clearTimeout(timer);
    const reading = [...this.sockets].map((s) => s.done);
    const answering = [...this.exchanges].map((x) => x.done);
    for (const x of this.exchanges) x.abort();
    for (const s of this.sockets) s.terminate();
    // Closed resources end their pending reads at once; wait for that, so nothing is left over.
    await Promise.all([this.accepting, ...reading, ...answering]);
  }
}

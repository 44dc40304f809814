/**
 * An HTTP/1.1 + WebSocket server on raw TCP. Every request goes to a fetch-style handler, which
 * may upgrade it with `upgradeWebSocket`. The server pings quiet connections and drops those that
 * stop answering, and `shutdown(ms)` ends within `ms` whatever the peers do.
 */
import type { Connection } from "./connection.ts";
import { listenDeno } from "./deno_transport.ts";
import { Exchange, type ExchangeHost, type ExchangeLimits, type Handler } from "./http_exchange.ts";
import { listenNode } from "./node_transport.ts";
import { FlushScheduler } from "./outbox.ts";
import type { Transport, TransportListener } from "./transport.ts";

export type { Handler };

const SLICES = 8;

export interface WsServerOptions {
  hostname?: string;
  /**
   * The TCP layer: "node" (node:net, the default: about half the CPU per write, see
   * bench/ws.ts) or "deno" (Deno.listen).
   */
  transport?: "node" | "deno";
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

export async function startWsServer(
  handler: Handler,
  options: WsServerOptions = {},
): Promise<WsServer> {
  const server = new Server(handler, options);
  const listen = options.transport === "deno" ? listenDeno : listenNode;
  server.listening(
    await listen({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? 0,
      onConnection: (t) => server.accept(t),
      onError: (err) => server.report(err),
    }),
  );
  return server;
}

class Server implements WsServer, ExchangeHost {
  readonly scheduler = new FlushScheduler();
  readonly closeTimeoutMs: number;
  readonly limits: ExchangeLimits;
  stopping = false;
  private listener: TransportListener | undefined;
  private readonly sockets = new Set<Connection>();
  private readonly exchanges = new Set<Exchange>();
  private sweep: ReturnType<typeof setInterval> | undefined;
  private stopped: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private nextSlice = 0;

  constructor(
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
  }

  /** Bound: from now on connections arrive, and quiet ones are pinged. */
  listening(listener: TransportListener): void {
    this.listener = listener;
    const idle = this.options.idleTimeoutSeconds ?? 60;
    if (idle > 0) {
      // Each connection is looked at once per interval, but in slices spread over it, so that
      // tens of thousands of idle sockets are not all pinged in the same tick.
      let tick = 0;
      this.sweep = setInterval(() => {
        const slice = tick++ % SLICES;
        for (const socket of this.sockets) if (socket.slice === slice) socket.heartbeat();
      }, (idle * 1000) / SLICES);
    }
  }

  get addr(): Deno.NetAddr {
    return this.listener!.addr;
  }

  get connections(): number {
    return this.sockets.size;
  }

  accept(t: Transport): void {
    const open = this.sockets.size + this.exchanges.size;
    if (this.stopping || open >= (this.options.maxConnections ?? Infinity)) return t.close();
    this.exchanges.add(new Exchange(t, this));
  }

  opened(c: Connection): void {
    c.slice = this.nextSlice++ % SLICES;
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
    const listenerClosed = this.listener!.close();
    const empty = new Promise<void>((r) => this.wake = r);
    for (const x of this.exchanges) x.stop();
    for (const s of this.sockets) s.close(1001, "server shutting down");
    this.checkEmpty();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([empty, new Promise((r) => timer = setTimeout(r, timeoutMs))]);
    clearTimeout(timer);
    const closing = [...this.sockets, ...this.exchanges].map((c) => c.closed);
    for (const x of this.exchanges) x.end();
    for (const s of this.sockets) s.terminate();
    // Closed connections end their pending reads at once; wait for that, so nothing is left over.
    await Promise.all([listenerClosed, ...closing]);
  }
}

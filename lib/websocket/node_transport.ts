/**
 * Transport on Deno's node:net. Measured on Deno 2.9 (bench/ws.ts), its sockets write without
 * a promise per write (a fan-out costs about half the CPU of `Deno.TcpConn.write`) and hold no
 * read buffer while idle. Only the byte stream is used: no node streams reach the library.
 */
import net from "node:net";
import type { Listen, Transport, TransportEvents } from "./transport.ts";

function netAddr(address: string | undefined, port: number | undefined): Deno.NetAddr {
  return { transport: "tcp", hostname: address ?? "", port: port ?? 0 };
}

// Fields are few and made on demand: tens of thousands of these stay idle for hours.
class NodeTransport implements Transport {
  readonly remoteAddr: Deno.NetAddr;
  private events: TransportEvents | undefined;
  private over = false; // onEnd given, or closed by us

  constructor(private readonly socket: net.Socket) {
    this.remoteAddr = netAddr(socket.remoteAddress, socket.remotePort);
    socket.setNoDelay(true); // writes are coalesced already; Nagle would hold them for an ACK
    socket.on("error", (err) => this.end(err));
    socket.on("end", () => this.end());
    socket.on("close", () => this.end());
  }

  get localAddr(): Deno.NetAddr {
    return netAddr(this.socket.localAddress, this.socket.localPort);
  }

  get closed(): Promise<void> {
    if (this.socket.closed) return Promise.resolve();
    return new Promise((r) => this.socket.once("close", () => r()));
  }

  listen(events: TransportEvents): void {
    if (!this.events) this.socket.on("data", (chunk: Uint8Array) => this.events!.onData(chunk));
    this.events = events;
  }

  write(data: Uint8Array, done: (err?: unknown) => void): void {
    if (this.socket.destroyed || this.socket.writableEnded) {
      queueMicrotask(() => done(new Error("the connection is closed")));
      return;
    }
    this.socket.write(data, (err) => done(err ?? undefined));
  }

  closeWrite(): void {
    this.socket.end();
  }

  close(): void {
    this.over = true;
    this.socket.destroy();
  }

  private end(err?: unknown): void {
    if (this.over) return;
    this.over = true;
    this.events?.onEnd(err);
  }
}

export const listenNode: Listen = (options) =>
  new Promise((resolve, reject) => {
    const server = net.createServer(
      { allowHalfOpen: true },
      (socket) => options.onConnection(new NodeTransport(socket)),
    );
    const closed = new Promise<void>((r) => server.once("close", () => r()));
    server.once("error", (err: Error & { code?: string }) => {
      server.close();
      const where = `${options.hostname}:${options.port}`;
      reject(
        err.code === "EADDRINUSE" ? new Deno.errors.AddrInUse(`${where} is in use`) : err,
      );
    });
    server.listen({ host: options.hostname, port: options.port }, () => {
      server.removeAllListeners("error");
      server.on("error", options.onError);
      const a = server.address() as net.AddressInfo;
      resolve({
        addr: netAddr(a.address, a.port),
        close: () => {
          server.close(); // its callback waits for every connection: the server ends those
          return closed;
        },
      });
    });
  });

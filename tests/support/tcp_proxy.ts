/**
 * A TCP proxy for fault injection between a client and a server on 127.0.0.1: it can cut every
 * connection at once, refuse new ones (the network is down), and swallow the response to the
 * next request whose first line matches — the server does the work, the client never hears.
 */
export class TcpProxy {
  private readonly listener: Deno.Listener;
  private readonly open = new Set<Deno.Conn>();
  private down = false;
  private dropNext: RegExp | undefined;
  /** Responses swallowed so far. */
  dropped = 0;

  constructor(private readonly target: { hostname: string; port: number }) {
    this.listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    void this.accept();
  }

  get port(): number {
    return (this.listener.addr as Deno.NetAddr).port;
  }

  /** `http://127.0.0.1:<port>` */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Closes every connection through the proxy (clients see a reset or an early close). */
  cut(): void {
    for (const c of this.open) close(c);
    this.open.clear();
  }

  /** While down, connections are cut and new ones closed at once. */
  setDown(down: boolean): void {
    this.down = down;
    if (down) this.cut();
  }

  /** The next request whose request line matches gets no response: its connection is closed. */
  dropResponseTo(requestLine: RegExp): void {
    this.dropNext = requestLine;
  }

  close(): void {
    this.listener.close();
    this.cut();
  }

  private async accept(): Promise<void> {
    for await (const client of this.listener) {
      if (this.down) {
        close(client);
        continue;
      }
      void this.pipe(client);
    }
  }

  private async pipe(client: Deno.Conn): Promise<void> {
    let server: Deno.Conn;
    try {
      server = await Deno.connect(this.target);
    } catch {
      close(client);
      return;
    }
    this.open.add(client);
    this.open.add(server);
    let swallow = false;
    const upstream = (async () => {
      const buf = new Uint8Array(64 * 1024);
      for (;;) {
        const n = await client.read(buf).catch(() => null);
        if (n === null) break;
        const chunk = buf.subarray(0, n);
        if (this.dropNext && this.dropNext.test(new TextDecoder().decode(chunk.subarray(0, 200)))) {
          this.dropNext = undefined;
          swallow = true;
        }
        if (!(await writeAll(server, chunk))) break;
      }
    })();
    const downstream = (async () => {
      const buf = new Uint8Array(64 * 1024);
      for (;;) {
        const n = await server.read(buf).catch(() => null);
        if (n === null) break;
        if (swallow) {
          // The server answered; the client must not hear it.
          this.dropped++;
          break;
        }
        if (!(await writeAll(client, buf.subarray(0, n)))) break;
      }
    })();
    await Promise.race([upstream, downstream]);
    close(client);
    close(server);
    this.open.delete(client);
    this.open.delete(server);
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<boolean> {
  try {
    let at = 0;
    while (at < bytes.length) at += await conn.write(bytes.subarray(at));
    return true;
  } catch {
    return false;
  }
}

function close(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

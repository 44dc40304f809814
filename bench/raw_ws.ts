/**
 * A minimal WebSocket client (RFC 6455) over a raw TCP socket, for the single-client benches: it
 * reads frames straight from the socket in large chunks, so on this 2-core machine the client's
 * per-message event dispatch does not become the limit the bench measures instead of the hub.
 */

export type TextHandler = (payload: Uint8Array, receivedAt: number) => void;

const now = () => performance.timeOrigin + performance.now();

export class RawWsClient {
  closed: { code: number; reason: string } | undefined;
  private resumeReading: (() => void) | undefined;
  private paused: Promise<void> | undefined;

  /** Stops reading the socket (a client too slow to keep up), until `resume`. */
  pause(): void {
    this.paused ??= new Promise((r) => this.resumeReading = r);
  }

  resume(): void {
    this.resumeReading?.();
    this.paused = undefined;
  }

  private constructor(private readonly conn: Deno.TcpConn, private readonly onText: TextHandler) {}

  static async connect(url: string, onText: TextHandler): Promise<RawWsClient> {
    const u = new URL(url);
    const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    await writeAll(
      conn,
      new TextEncoder().encode(
        `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    // Read the handshake response up to its blank line; keep whatever frames follow it.
    let buffered: Uint8Array = new Uint8Array(0);
    for (;;) {
      const chunk = new Uint8Array(16 * 1024);
      const n = await conn.read(chunk);
      if (n === null) throw new Error("connection closed during the handshake");
      buffered = concat(buffered, chunk.subarray(0, n));
      const end = indexOf(buffered, [13, 10, 13, 10]);
      if (end < 0) continue;
      const head = new TextDecoder().decode(buffered.subarray(0, end));
      if (!head.startsWith("HTTP/1.1 101")) {
        throw new Error(`upgrade refused: ${head.split("\r\n")[0]}`);
      }
      const client = new RawWsClient(conn, onText);
      client.pump(buffered.subarray(end + 4));
      return client;
    }
  }

  async sendText(text: string): Promise<void> {
    const payload = new TextEncoder().encode(text);
    const mask = crypto.getRandomValues(new Uint8Array(4));
    const len = payload.length;
    const header = len < 126
      ? [0x81, 0x80 | len]
      : len < 65536
      ? [0x81, 0xfe, len >> 8, len & 255]
      : null;
    if (!header) throw new Error("frame too large for the bench client");
    const frame = new Uint8Array(header.length + 4 + len);
    frame.set(header);
    frame.set(mask, header.length);
    for (let i = 0; i < len; i++) frame[header.length + 4 + i] = payload[i]! ^ mask[i & 3]!;
    await writeAll(this.conn, frame);
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }

  private async pump(initial: Uint8Array): Promise<void> {
    let buf: Uint8Array = initial;
    let fragments: Uint8Array[] = [];
    const chunk = new Uint8Array(1 << 20);
    try {
      for (;;) {
        let at = 0;
        const t = now();
        while (buf.length - at >= 2) {
          const b0 = buf[at]!, b1 = buf[at + 1]!;
          let len = b1 & 0x7f, off = at + 2;
          if (len === 126) {
            if (buf.length - at < 4) break;
            len = (buf[at + 2]! << 8) | buf[at + 3]!;
            off = at + 4;
          } else if (len === 127) {
            if (buf.length - at < 10) break;
            len = Number(new DataView(buf.buffer, buf.byteOffset + at + 2, 8).getBigUint64(0));
            off = at + 10;
          }
          if (buf.length - off < len) break;
          const payload = buf.subarray(off, off + len);
          at = off + len;
          const opcode = b0 & 0x0f, fin = (b0 & 0x80) !== 0;
          if (opcode === 0x8) {
            const code = len >= 2 ? (payload[0]! << 8) | payload[1]! : 1005;
            this.closed = { code, reason: new TextDecoder().decode(payload.subarray(2)) };
            return this.close();
          }
          if (opcode === 0x9) {
            await this.pong(payload);
            continue;
          }
          if (opcode === 0x1 || opcode === 0x0) {
            if (!fin) {
              fragments.push(payload.slice());
              continue;
            }
            const whole = fragments.length ? concat(...fragments, payload) : payload;
            fragments = [];
            this.onText(whole, t);
          }
        }
        buf = buf.subarray(at);
        if (this.paused) await this.paused;
        const n = await this.conn.read(chunk);
        if (n === null) {
          this.closed ??= { code: 1006, reason: "connection lost" };
          return;
        }
        buf = buf.length ? concat(buf, chunk.subarray(0, n)) : chunk.slice(0, n);
      }
    } catch (err) {
      this.closed ??= { code: 1006, reason: String(err) };
    }
  }

  private async pong(payload: Uint8Array): Promise<void> {
    const frame = new Uint8Array(6 + payload.length);
    frame.set([0x8a, 0x80 | payload.length, 0, 0, 0, 0]);
    frame.set(payload, 6);
    await writeAll(this.conn, frame);
  }
}

async function writeAll(conn: Deno.TcpConn, data: Uint8Array): Promise<void> {
  for (let at = 0; at < data.length;) at += await conn.write(data.subarray(at));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function indexOf(haystack: Uint8Array, needle: number[]): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * A raw TCP client for hostile-input tests of lib/websocket: writes whatever bytes a test wants
 * (unmasked frames, bad lengths, half a request head) and reads the server's frames as they are.
 */
import { encodeFrame } from "../../lib/websocket/frame.ts";

export interface RawFrame {
  fin: boolean;
  opcode: number;
  payload: Uint8Array;
}

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

export class RawClient {
  private buf = new Uint8Array(0);
  private eof = false;

  private constructor(readonly tcp: Deno.TcpConn) {}

  /** Connects; with `upgrade`, completes the handshake (throws unless answered 101). */
  static async connect(port: number, upgrade: string | false = "/ws"): Promise<RawClient> {
    const client = new RawClient(await Deno.connect({ hostname: "127.0.0.1", port }));
    if (upgrade === false) return client;
    await client.writeText(
      `GET ${upgrade} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    const head = await client.readHead();
    if (!head.startsWith("HTTP/1.1 101 ")) throw new Error(`not upgraded: ${head}`);
    return client;
  }

  async write(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length;) at += await this.tcp.write(bytes.subarray(at));
  }

  writeText(text: string): Promise<void> {
    return this.write(new TextEncoder().encode(text));
  }

  /** Sends a masked frame (unless `mask: false`). */
  sendFrame(
    opcode: number,
    payload: Uint8Array | string = new Uint8Array(0),
    opts: { fin?: boolean; mask?: boolean } = {},
  ): Promise<void> {
    const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
    const mask = opts.mask === false ? undefined : crypto.getRandomValues(new Uint8Array(4));
    return this.write(
      encodeFrame(opcode, bytes, { fin: opts.fin ?? true, ...(mask ? { mask } : {}) }),
    );
  }

  /** The response head, up to its blank line (the rest stays buffered). */
  async readHead(): Promise<string> {
    for (;;) {
      const text = new TextDecoder().decode(this.buf);
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        this.buf = this.buf.subarray(new TextEncoder().encode(text.slice(0, end + 4)).length);
        return text.slice(0, end);
      }
      if (!(await this.fill())) return text;
    }
  }

  /** Everything until the server closes the connection. */
  async readToEnd(): Promise<string> {
    while (await this.fill()) { /* more */ }
    return new TextDecoder().decode(this.buf);
  }

  /** The next frame from the server, or null once the connection has ended. */
  async nextFrame(): Promise<RawFrame | null> {
    for (;;) {
      const f = this.parse();
      if (f) return f;
      if (!(await this.fill())) return null;
    }
  }

  /** Frames until the end of the connection; the last is usually the close frame. */
  async framesToEnd(): Promise<RawFrame[]> {
    const frames: RawFrame[] = [];
    for (let f = await this.nextFrame(); f; f = await this.nextFrame()) frames.push(f);
    return frames;
  }

  close(): void {
    try {
      this.tcp.close();
    } catch { /* closed */ }
  }

  private async fill(): Promise<boolean> {
    if (this.eof) return false;
    const chunk = new Uint8Array(64 * 1024);
    let n: number | null;
    try {
      n = await this.tcp.read(chunk);
    } catch {
      n = null; // reset by the server
    }
    if (n === null) {
      this.eof = true;
      return false;
    }
    const next = new Uint8Array(this.buf.length + n);
    next.set(this.buf);
    next.set(chunk.subarray(0, n), this.buf.length);
    this.buf = next;
    return true;
  }

  private parse(): RawFrame | null {
    const b = this.buf;
    if (b.length < 2) return null;
    let len = b[1]! & 0x7f, off = 2;
    if (len === 126) {
      if (b.length < 4) return null;
      len = (b[2]! << 8) | b[3]!;
      off = 4;
    } else if (len === 127) {
      if (b.length < 10) return null;
      len = Number(new DataView(b.buffer, b.byteOffset + 2, 8).getBigUint64(0));
      off = 10;
    }
    if (b.length < off + len) return null;
    this.buf = b.subarray(off + len);
    return { fin: (b[0]! & 0x80) !== 0, opcode: b[0]! & 0x0f, payload: b.slice(off, off + len) };
  }
}

/** The code and reason of a close frame. */
export function closeOf(frame: RawFrame | null | undefined): { code: number; reason: string } {
  if (!frame || frame.opcode !== 0x8) {
    throw new Error(`not a close frame: ${JSON.stringify(frame)}`);
  }
  const p = frame.payload;
  return {
    code: p.length >= 2 ? (p[0]! << 8) | p[1]! : 1005,
    reason: new TextDecoder().decode(p.subarray(2)),
  };
}

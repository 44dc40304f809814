/**
 * Incremental parser of the frames a client sends (RFC 6455 §5). Bytes are pushed as they arrive,
 * in chunks of any size; the parser keeps only the message being assembled. A message's size is
 * checked from each frame's header, before any of its payload is buffered, so a peer announcing
 * a huge frame costs nothing but its header.
 */
import { CloseCode, isValidCloseCode, MAX_CONTROL_PAYLOAD, Opcode } from "./frame.ts";

/** A peer broke the protocol; `code` is the close code to fail the connection with. */
export class WsProtocolError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = "WsProtocolError";
  }
}

export interface FrameSink {
  onText(text: string): void;
  onBinary(data: Uint8Array): void;
  onPing(payload: Uint8Array): void;
  onPong(payload: Uint8Array): void;
  /** `code` is undefined for a close frame without a status. */
  onClose(code: number | undefined, reason: string): void;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new WsProtocolError(CloseCode.invalidPayload, `${what} is not valid UTF-8`);
  }
}

export class FrameParser {
  // The frame header, gathered byte by byte only when it is split across chunks.
  private head: Uint8Array | undefined;
  private headLen = 0;
  // The frame being read: its payload and how much of it has arrived.
  private opcode = 0;
  private fin = false;
  private mask = 0;
  private payload: Uint8Array | undefined;
  private filled = 0;
  // The fragmented message being assembled, in one buffer that doubles as it fills: a message
  // sent one byte per frame costs no more memory than the same message in one frame.
  private fragments: Uint8Array | undefined;
  private fragmentBytes = 0;
  private fragmentedText = false;

  constructor(private readonly maxMessageBytes: number, private readonly sink: FrameSink) {}

  /** Parses `chunk`, which the caller may reuse once this returns. Throws WsProtocolError. */
  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.payload === undefined) {
        const used = this.readHeader(chunk, at);
        if (used < 0) return; // the rest of the header is still to come
        at = used;
        if (this.payload === undefined) continue; // an empty frame, already delivered
      }
      const take = Math.min(this.payload.length - this.filled, chunk.length - at);
      this.unmaskInto(chunk, at, take);
      at += take;
      if (this.filled === this.payload.length) this.complete();
    }
  }

  /** Reads a header starting at `at`; returns the offset after it, or -1 if incomplete. */
  private readHeader(chunk: Uint8Array, at: number): number {
    if (this.headLen === 0 && chunk.length - at >= 2) {
      const need = headerLength(chunk[at + 1]!);
      if (chunk.length - at >= need) {
        this.startFrame(chunk, at);
        return at + need;
      }
    }
    // Split across chunks: gather it in a 14-byte scratch buffer until it is whole.
    const head = this.head ??= new Uint8Array(14);
    while (at < chunk.length) {
      head[this.headLen++] = chunk[at++]!;
      if (this.headLen >= 2 && this.headLen === headerLength(head[1]!)) {
        this.headLen = 0;
        this.startFrame(head, 0);
        return at;
      }
    }
    return -1;
  }

  private startFrame(b: Uint8Array, at: number): void {
    const b0 = b[at]!, b1 = b[at + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if ((b0 & 0x70) !== 0) throw protocol("reserved bits set without an extension");
    if ((b1 & 0x80) === 0) throw protocol("client frames must be masked");
    let len = b1 & 0x7f, off = at + 2;
    if (len === 126) {
      len = (b[off]! << 8) | b[off + 1]!;
      off += 2;
    } else if (len === 127) {
      const hi = ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
      const lo = ((b[off + 4]! << 24) | (b[off + 5]! << 16) | (b[off + 6]! << 8) | b[off + 7]!) >>>
        0;
      if (hi >= 0x80000000) throw protocol("payload length has its top bit set");
      len = hi * 2 ** 32 + lo;
      off += 8;
    }
    this.mask = ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
    if (opcode >= 0x8) {
      if (opcode > Opcode.pong) throw protocol(`unknown opcode ${opcode}`);
      if (!fin) throw protocol("control frames must not be fragmented");
      if (len > MAX_CONTROL_PAYLOAD) throw protocol("control frame payload exceeds 125 bytes");
    } else if (opcode === Opcode.continuation) {
      if (!this.fragments) throw protocol("continuation frame without a message to continue");
    } else if (opcode === Opcode.text || opcode === Opcode.binary) {
      if (this.fragments) throw protocol("new message before the fragmented one ended");
    } else {
      throw protocol(`unknown opcode ${opcode}`);
    }
    // The limit applies to the whole message, fragments included, before reading the payload.
    if (opcode < 0x8 && this.fragmentBytes + len > this.maxMessageBytes) {
      throw new WsProtocolError(
        CloseCode.messageTooBig,
        `message exceeds ${this.maxMessageBytes} bytes`,
      );
    }
    this.opcode = opcode;
    this.fin = fin;
    this.payload = new Uint8Array(len);
    this.filled = 0;
    if (len === 0) this.complete();
  }

  private unmaskInto(chunk: Uint8Array, at: number, count: number): void {
    const out = this.payload!, mask = this.mask;
    let j = this.filled;
    for (let i = 0; i < count; i++, j++) {
      out[j] = chunk[at + i]! ^ ((mask >>> (24 - ((j & 3) << 3))) & 0xff);
    }
    this.filled = j;
  }

  private complete(): void {
    const payload = this.payload!;
    this.payload = undefined;
    switch (this.opcode) {
      case Opcode.ping:
        return this.sink.onPing(payload);
      case Opcode.pong:
        return this.sink.onPong(payload);
      case Opcode.close:
        return this.close(payload);
    }
    if (this.opcode !== Opcode.continuation && this.fin) {
      return this.deliver(payload, this.opcode === Opcode.text);
    }
    if (this.opcode !== Opcode.continuation) {
      this.fragmentedText = this.opcode === Opcode.text;
      this.fragments = new Uint8Array(
        Math.min(Math.max(payload.length * 2, 256), this.maxMessageBytes),
      );
    }
    let buf = this.fragments!;
    const size = this.fragmentBytes + payload.length;
    if (size > buf.length) {
      buf = new Uint8Array(Math.min(Math.max(size, buf.length * 2), this.maxMessageBytes));
      buf.set(this.fragments!.subarray(0, this.fragmentBytes));
      this.fragments = buf;
    }
    buf.set(payload, this.fragmentBytes);
    this.fragmentBytes = size;
    if (!this.fin) return;
    this.fragments = undefined;
    this.fragmentBytes = 0;
    this.deliver(buf.subarray(0, size), this.fragmentedText);
  }

  private deliver(data: Uint8Array, text: boolean): void {
    if (text) this.sink.onText(decodeUtf8(data, "text message"));
    else this.sink.onBinary(data.length === data.buffer.byteLength ? data : data.slice());
  }

  private close(payload: Uint8Array): void {
    if (payload.length === 0) return this.sink.onClose(undefined, "");
    if (payload.length === 1) throw protocol("close frame payload of one byte");
    const code = (payload[0]! << 8) | payload[1]!;
    if (!isValidCloseCode(code)) throw protocol(`invalid close code ${code}`);
    this.sink.onClose(code, decodeUtf8(payload.subarray(2), "close reason"));
  }
}

/** A header's length in bytes, from its second byte (mask bit and 7-bit length). */
function headerLength(b1: number): number {
  const len7 = b1 & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + ((b1 & 0x80) !== 0 ? 4 : 0);
}

function protocol(message: string): WsProtocolError {
  return new WsProtocolError(CloseCode.protocolError, message);
}

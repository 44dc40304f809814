/**
 * One accepted WebSocket, shaped like the browser's: `send`, `bufferedAmount`, `close`,
 * `readyState`, `onmessage`, `onclose` — plus `terminate()` and `sendFrame()` for pre-encoded
 * fan-out frames. State per idle connection is kept small: the parser and the outbox, no timer
 * (one exists only while closing; the server's heartbeat sweep pings the rest).
 */
import {
  CloseCode,
  encodeCloseFrame,
  encodeFrame,
  isValidCloseCode,
  Opcode,
  PING_FRAME,
} from "./frame.ts";
import { FrameParser, type FrameSink, WsProtocolError } from "./frame_parser.ts";
import { type FlushScheduler, Outbox, type OutboxOwner } from "./outbox.ts";
import type { Transport, TransportEvents } from "./transport.ts";

export const ReadyState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];

/** The public face of a server-side WebSocket. */
export interface WsConnection {
  readonly readyState: ReadyState;
  /** Bytes queued and not yet taken by the kernel. */
  readonly bufferedAmount: number;
  readonly remoteAddr: Deno.NetAddr;
  onopen: (() => void) | null;
  /** A whole message: a string for text, bytes for binary. */
  onmessage: ((data: string | Uint8Array) => void) | null;
  /**
   * Once, when the connection is gone: the peer's close code and reason if it sent a close
   * frame (1005 if it gave none), otherwise 1006 and why.
   */
  onclose: ((code: number, reason: string) => void) | null;
  /** The peer broke the protocol; frames sent from here still go out before the close frame. */
  onerror: ((error: WsProtocolError) => void) | null;
  send(text: string): void;
  /**
   * Sends the text message `prefix + body + suffix`, encoded straight into the connection's
   * write buffer (no concatenated string, no allocation per message).
   */
  sendText(prefix: string, body?: string, suffix?: string): void;
  sendBinary(data: Uint8Array): void;
  /** Queues a frame made by `encodeTextFrame` (the same bytes may go to many connections). */
  sendFrame(frame: Uint8Array): void;
  /** Starts the closing handshake; the connection is dropped if the peer does not answer. */
  close(code?: number, reason?: string): void;
  /** Drops the TCP connection at once, whatever is queued. */
  terminate(): void;
}

/** What the server provides to its connections. */
export interface ConnectionHost {
  readonly scheduler: FlushScheduler;
  readonly closeTimeoutMs: number;
  opened(c: Connection): void;
  closed(c: Connection): void;
  /** A callback of the application threw. */
  report(err: unknown): void;
}

const MAX_PONG_BACKLOG = 16 * 1024;

export class Connection implements WsConnection, FrameSink, OutboxOwner, TransportEvents {
  readyState: ReadyState = ReadyState.CONNECTING;
  onopen: (() => void) | null = null;
  onmessage: ((data: string | Uint8Array) => void) | null = null;
  onclose: ((code: number, reason: string) => void) | null = null;
  onerror: ((error: WsProtocolError) => void) | null = null;
  private readonly parser: FrameParser;
  private readonly outbox: Outbox;
  private closeTimer: ReturnType<typeof setTimeout> | undefined;
  private closeSent = false;
  private failed: WsProtocolError | undefined;
  private peerClose: { code: number; reason: string } | undefined;
  private pendingClose: [number, string] | undefined;
  /** Which slice of the server's heartbeat sweep looks at this connection. */
  slice = 0;
  // Heartbeat: anything read since the last sweep; a ping awaiting an answer.
  private heard = true;
  private pinged = false;

  constructor(
    private readonly transport: Transport,
    private readonly host: ConnectionHost,
    maxMessageBytes: number,
  ) {
    this.parser = new FrameParser(maxMessageBytes, this);
    this.outbox = new Outbox(transport, host.scheduler, this);
  }

  get remoteAddr(): Deno.NetAddr {
    return this.transport.remoteAddr;
  }

  get bufferedAmount(): number {
    return this.outbox.bytes;
  }

  send(text: string): void {
    if (this.readyState === ReadyState.OPEN) this.outbox.pushText(text);
  }

  sendText(prefix: string, body?: string, suffix?: string): void {
    if (this.readyState === ReadyState.OPEN) this.outbox.pushText(prefix, body, suffix);
  }

  sendBinary(data: Uint8Array): void {
    if (this.readyState === ReadyState.OPEN) this.outbox.push(encodeFrame(Opcode.binary, data));
  }

  sendFrame(frame: Uint8Array): void {
    if (this.readyState === ReadyState.OPEN) this.outbox.push(frame);
  }

  close(code: number = CloseCode.normal, reason = ""): void {
    if (!isValidCloseCode(code)) throw new RangeError(`invalid close code ${code}`);
    if (new TextEncoder().encode(reason).length > 123) {
      throw new RangeError("close reason longer than 123 bytes");
    }
    if (this.readyState === ReadyState.CONNECTING) {
      this.pendingClose = [code, reason];
      return;
    }
    if (this.readyState !== ReadyState.OPEN) return;
    this.sendClose(code, reason);
  }

  terminate(): void {
    this.finish(CloseCode.abnormal, "terminated");
  }

  /** Settles once the connection is closed. */
  get closed(): Promise<void> {
    return this.transport.closed;
  }

  /** Starts the connection once its 101 answer is decided; `leftover` are bytes read past it. */
  open(answer: Uint8Array, leftover: Uint8Array): void {
    if (this.readyState !== ReadyState.CONNECTING) return; // terminated in the handler
    this.readyState = ReadyState.OPEN;
    this.outbox.push(answer);
    this.host.opened(this);
    this.callback(() => this.onopen?.());
    this.transport.listen(this);
    if (leftover.length > 0) this.onData(leftover);
    if (this.pendingClose) this.close(...this.pendingClose);
  }

  /** The upgrade was decided against after all. */
  abandon(): void {
    if (this.readyState === ReadyState.CLOSED) return;
    this.readyState = ReadyState.CLOSED;
    this.callback(() => this.onclose?.(CloseCode.abnormal, "upgrade not completed"));
  }

  /** The server's sweep: ping a quiet connection; drop one that missed its ping. */
  heartbeat(): void {
    if (this.readyState !== ReadyState.OPEN) return;
    if (this.heard) {
      this.heard = false;
      this.pinged = false;
    } else if (this.pinged) {
      this.finish(CloseCode.abnormal, "no answer to ping");
    } else {
      this.pinged = true;
      this.outbox.push(PING_FRAME);
    }
  }

  onData(chunk: Uint8Array): void {
    this.heard = true;
    if (this.failed || this.peerClose) return; // nothing after a close frame or a failure counts
    try {
      this.parser.push(chunk);
    } catch (err) {
      if (!(err instanceof WsProtocolError)) throw err;
      this.fail(err);
    }
  }

  onEnd(err?: unknown): void {
    const why = this.failed
      ? `failed: ${this.failed.message}`
      : err
      ? `connection lost: ${(err as Error).message ?? err}`
      : "connection lost";
    this.finish(CloseCode.abnormal, why);
  }

  onText(text: string): void {
    if (this.readyState === ReadyState.OPEN) this.callback(() => this.onmessage?.(text));
  }

  onBinary(data: Uint8Array): void {
    if (this.readyState === ReadyState.OPEN) this.callback(() => this.onmessage?.(data));
  }

  onPing(payload: Uint8Array): void {
    // A peer that pings without reading would fill our queue with pongs: past a small backlog
    // they are skipped (RFC 6455 §5.5.3 lets an endpoint answer only the latest ping).
    if (!this.closeSent && this.outbox.bytes < MAX_PONG_BACKLOG) {
      this.outbox.push(encodeFrame(Opcode.pong, payload));
    }
  }

  onPong(): void {}

  onClose(code: number | undefined, reason: string): void {
    this.peerClose = { code: code ?? CloseCode.noStatus, reason };
    if (!this.closeSent) this.sendClose(code, reason); // echo; we close TCP once it is written
    else if (this.outbox.idle) this.drained();
  }

  drained(): void {
    if (this.readyState !== ReadyState.CLOSING) return;
    if (this.peerClose) {
      this.finish(this.peerClose.code, this.peerClose.reason);
    } else if (this.failed) {
      // Our close frame is out: tell the peer there is nothing more, and discard what it sends.
      this.transport.closeWrite();
    }
  }

  writeFailed(err: unknown): void {
    this.finish(CloseCode.abnormal, `write failed: ${(err as Error).message ?? err}`);
  }

  private fail(err: WsProtocolError): void {
    if (this.readyState !== ReadyState.OPEN) {
      return this.finish(CloseCode.abnormal, `failed: ${err.message}`);
    }
    this.failed = err;
    this.callback(() => this.onerror?.(err));
    if (this.readyState === ReadyState.OPEN) this.sendClose(err.code, err.message);
  }

  private sendClose(code: number | undefined, reason: string): void {
    this.readyState = ReadyState.CLOSING;
    this.closeSent = true;
    this.outbox.push(encodeCloseFrame(code, reason));
    this.closeTimer = setTimeout(
      () => this.finish(CloseCode.abnormal, "closing handshake timed out"),
      this.host.closeTimeoutMs,
    );
  }

  private finish(code: number, reason: string): void {
    if (this.readyState === ReadyState.CLOSED) return;
    this.readyState = ReadyState.CLOSED;
    clearTimeout(this.closeTimer);
    this.outbox.clear();
    this.transport.close();
    this.host.closed(this);
    // Asynchronously, as in browsers: a caller iterating its sockets may terminate one safely.
    queueMicrotask(() => this.callback(() => this.onclose?.(code, reason)));
  }

  private callback(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.host.report(err);
    }
  }
}

/**
 * One accepted connection until it is either upgraded or answered. The request head and body are
 * gathered as they arrive, within limits and a deadline (a slow or silent client is dropped when
 * it expires); then the handler decides, and the exchange upgrades or answers and closes.
 */
import { Connection, type ConnectionHost } from "./connection.ts";
import { acceptKey, switchingProtocols } from "./handshake.ts";
import {
  bodyLength,
  findHeadEnd,
  HttpError,
  parseRequestHead,
  type RequestHead,
  requestUrl,
} from "./http_head.ts";
import { plainResponse, writeResponse } from "./http_response.ts";
import { type Transport, type TransportEvents, writeAll } from "./transport.ts";
import { offerUpgrade, upgradeOf } from "./upgrade.ts";

export type Handler = (
  req: Request,
  info: { remoteAddr: Deno.NetAddr },
) => Response | Promise<Response>;

export interface ExchangeLimits {
  maxHeaderBytes: number;
  maxHeaderCount: number;
  maxRequestBodyBytes: number;
  /** Time allowed for the head and body to arrive, and for the answer to be written. */
  requestTimeoutMs: number;
  maxMessageBytes: number;
}

export interface ExchangeHost extends ConnectionHost {
  readonly handler: Handler;
  readonly limits: ExchangeLimits;
  /** Stopping: upgrades are refused with 503. */
  readonly stopping: boolean;
  ended(x: Exchange): void;
}

type Phase = "head" | "body" | "handler" | "answer" | "linger" | "over";

export class Exchange implements TransportEvents {
  private phase: Phase = "head";
  // The head, the body and whatever follows, as it arrives.
  private buf = new Uint8Array(1024);
  private len = 0;
  private head: RequestHead | undefined;
  private headEnd = 0;
  private bodyEnd = 0;
  private inputEnded = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly aborted = Promise.withResolvers<never>();

  constructor(private readonly t: Transport, private readonly host: ExchangeHost) {
    this.aborted.promise.catch(() => {});
    this.arm(host.limits.requestTimeoutMs);
    t.listen(this);
  }

  get closed(): Promise<void> {
    return this.t.closed;
  }

  /** Shutdown: a request still arriving is dropped; one being handled may finish. */
  stop(): void {
    if (this.phase === "head" || this.phase === "body") this.end();
  }

  /** Drops the connection now. */
  end(): void {
    if (this.phase === "over") return;
    this.phase = "over";
    clearTimeout(this.timer);
    this.aborted.reject(new Error("aborted"));
    this.t.close();
    this.host.ended(this);
  }

  onData(chunk: Uint8Array): void {
    if (this.phase !== "head" && this.phase !== "body" && this.phase !== "handler") return;
    // Beyond the head and body, allow a head's worth of early WebSocket frames; no more.
    if (
      this.phase !== "head" &&
      this.len + chunk.length > this.bodyEnd + this.host.limits.maxHeaderBytes
    ) {
      return this.end();
    }
    this.append(chunk);
    if (this.phase === "head") this.scanHead(chunk.length);
    if (this.phase === "body" && this.len >= this.bodyEnd) {
      this.dispatch().catch((err) => {
        this.host.report(err);
        this.end();
      });
    }
  }

  onEnd(err?: unknown): void {
    this.inputEnded = true;
    // Before the request is whole, or on a failure, there is no one to answer.
    if (err || this.phase === "head" || this.phase === "body" || this.phase === "linger") {
      this.end();
    }
  }

  private arm(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.end(), ms);
  }

  private append(bytes: Uint8Array): void {
    if (this.len + bytes.length > this.buf.length) {
      const bigger = new Uint8Array(Math.max(this.buf.length * 4, this.len + bytes.length));
      bigger.set(this.buf.subarray(0, this.len));
      this.buf = bigger;
    }
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  private scanHead(added: number): void {
    const limits = this.host.limits;
    const end = findHeadEnd(this.buf.subarray(0, this.len), this.len - added - 3);
    if (end < 0 ? this.len >= limits.maxHeaderBytes : end > limits.maxHeaderBytes) {
      this.answer(new HttpError(431, "request head too large"));
      return;
    }
    if (end < 0) return;
    try {
      this.head = parseRequestHead(this.buf.subarray(0, end), limits.maxHeaderCount);
      const length = bodyLength(this.head);
      if (length > limits.maxRequestBodyBytes) {
        throw new HttpError(413, `request body exceeds ${limits.maxRequestBodyBytes} bytes`);
      }
      this.headEnd = end;
      this.bodyEnd = end + length;
    } catch (err) {
      this.answer(err instanceof HttpError ? err : new HttpError(400, "malformed request"));
      return;
    }
    this.phase = "body";
    const expect = this.head.headers.get("expect")?.toLowerCase() === "100-continue";
    if (this.len < this.bodyEnd && expect && this.len === this.headEnd) {
      writeAll(this.t, new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n")).catch(() => {});
    }
  }

  private async dispatch(): Promise<void> {
    this.phase = "handler";
    clearTimeout(this.timer);
    const head = this.head!;
    let req: Request;
    try {
      req = this.request(head);
    } catch (err) {
      if (err instanceof HttpError) return this.answer(err);
      throw err;
    }
    let socket: Connection | undefined;
    const maxMessageBytes = this.host.limits.maxMessageBytes;
    offerUpgrade(req, {
      create: (o) =>
        socket = new Connection(this.t, this.host, o.maxMessageBytes ?? maxMessageBytes),
    });
    let res: Response;
    try {
      // A handler that never answers must not keep the exchange alive past `end()`.
      const answer = (async () =>
        await this.host.handler(req, { remoteAddr: this.t.remoteAddr }))();
      answer.catch(() => {}); // a failure after an abort has no one to tell
      res = await Promise.race([answer, this.aborted.promise]);
    } catch (err) {
      if (this.phase !== "handler") return socket?.abandon(); // ended meanwhile
      this.host.report(err);
      res = plainResponse(500, "internal server error");
    }
    const upgrade = upgradeOf(res);
    if (!socket || upgrade?.socket !== socket) {
      socket?.abandon();
      return this.answer(res);
    }
    if (this.host.stopping) {
      socket.abandon();
      return this.answer(plainResponse(503, "server shutting down"));
    }
    const accept = switchingProtocols(await acceptKey(upgrade.key), res.headers);
    if (this.phase !== "handler") return socket.abandon(); // ended while hashing
    this.phase = "over";
    this.host.ended(this); // the connection is the socket's now
    socket.open(accept, this.buf.slice(this.bodyEnd, this.len));
    if (this.inputEnded) socket.onEnd(); // the peer ended its side while we decided
  }

  private request(head: RequestHead): Request {
    const local = this.t.localAddr;
    const url = requestUrl(head, `${local.hostname}:${local.port}`);
    const withBody = this.bodyEnd > this.headEnd && head.method !== "GET" &&
      head.method !== "HEAD";
    try {
      return new Request(url, {
        method: head.method,
        headers: head.headers,
        ...(withBody ? { body: this.buf.slice(this.headEnd, this.bodyEnd) } : {}),
      });
    } catch {
      throw new HttpError(400, `unsupported request: ${head.method}`);
    }
  }

  /** Writes the answer, then closes the way HTTP wants (see `linger`). */
  private async answer(res: Response | HttpError): Promise<void> {
    if (this.phase === "over") return;
    this.phase = "answer";
    this.arm(this.host.limits.requestTimeoutMs);
    const response = res instanceof HttpError ? plainResponse(res.status, res.message) : res;
    const req = this.head ?? { method: "GET", version: "1.1" as const };
    try {
      await writeResponse(this.t, response, req);
    } catch {
      return this.end(); // the client went away, or the body failed: nothing more to say
    }
    if (this.phase !== "answer") return;
    this.linger();
  }

  /**
   * No more from us, then read until the client closes (bounded), so that unread request bytes
   * do not turn our close into a reset that loses the answer.
   */
  private linger(): void {
    this.phase = "linger";
    this.t.closeWrite();
    if (this.inputEnded) return this.end();
    this.arm(Math.min(2000, this.host.limits.requestTimeoutMs));
  }
}

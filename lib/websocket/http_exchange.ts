/**
 * One accepted TCP connection until it is either upgraded or answered: reads the request head
 * and body within limits and a deadline (a slow or silent client is dropped when it expires),
 * calls the handler, then upgrades or writes the response and closes.
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
import { plainResponse, writeAll, writeResponse } from "./http_response.ts";
import { offerUpgrade, upgradeOf } from "./upgrade.ts";

export type Handler = (
  req: Request,
  info: { remoteAddr: Deno.NetAddr },
) => Response | Promise<Response>;

export interface ExchangeLimits {
  maxHeaderBytes: number;
  maxHeaderCount: number;
  maxRequestBodyBytes: number;
  /** Time allowed for the head and body to arrive, and for each response write. */
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

// Lingering closes read what clients still send only to throw it away: one buffer serves all.
const discard = new Uint8Array(16 * 1024);

export class Exchange {
  /** Settles once the exchange has ended. */
  readonly done: Promise<void>;
  /** In the handler: shutdown lets it finish (until its deadline) rather than dropping it. */
  private inHandler = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private readonly aborted = Promise.withResolvers<never>();

  constructor(private readonly tcp: Deno.TcpConn, private readonly host: ExchangeHost) {
    this.aborted.promise.catch(() => {});
    this.done = this.run();
  }

  /** Drops the connection now. */
  abort(): void {
    clearTimeout(this.timer);
    if (this.closed) return;
    this.closed = true;
    this.aborted.reject(new Error("aborted"));
    try {
      this.tcp.close();
    } catch { /* already closed */ }
  }

  /** Shutdown: a request still arriving is dropped; one being handled may finish. */
  stop(): void {
    if (!this.inHandler) this.abort();
  }

  private arm(ms = this.host.limits.requestTimeoutMs): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.abort(), ms);
  }

  private async run(): Promise<void> {
    let upgraded = false;
    try {
      this.arm();
      const { head, rest } = await this.readHead();
      const res = await this.answer(head, rest);
      if (res === "upgraded") upgraded = true;
      else {
        this.arm();
        const req = head instanceof HttpError ? { method: "GET", version: "1.1" as const } : head;
        await writeResponse(this.tcp, res, req);
        await this.linger();
      }
    } catch {
      // The client went away or was too slow: nothing to answer.
    } finally {
      clearTimeout(this.timer);
      if (!upgraded) this.abort();
      this.host.ended(this);
    }
  }

  /** The head, or the HttpError to answer; `rest` holds the bytes read past it. */
  private async readHead(): Promise<{ head: RequestHead | HttpError; rest: Uint8Array }> {
    const max = this.host.limits.maxHeaderBytes;
    let buf = new Uint8Array(1024), len = 0;
    for (;;) {
      if (len === buf.length) {
        if (len >= max) return { head: new HttpError(431, "request head too large"), rest: buf };
        const bigger = new Uint8Array(Math.min(max, len * 4));
        bigger.set(buf);
        buf = bigger;
      }
      const n = await this.tcp.read(buf.subarray(len));
      if (n === null) throw new Error("closed before the request head ended");
      const end = findHeadEnd(buf.subarray(0, len + n), len - 3);
      len += n;
      if (end < 0) continue;
      try {
        const head = parseRequestHead(buf.subarray(0, end), this.host.limits.maxHeaderCount);
        return { head, rest: buf.slice(end, len) };
      } catch (err) {
        if (err instanceof HttpError) return { head: err, rest: buf };
        throw err;
      }
    }
  }

  private async answer(
    head: RequestHead | HttpError,
    rest: Uint8Array,
  ): Promise<Response | "upgraded"> {
    if (head instanceof HttpError) return plainResponse(head.status, head.message);
    let req: Request;
    try {
      req = await this.request(head, rest);
    } catch (err) {
      if (err instanceof HttpError) return plainResponse(err.status, err.message);
      throw err;
    }
    clearTimeout(this.timer);
    let socket: Connection | undefined;
    offerUpgrade(req, {
      create: (o) =>
        socket = new Connection(
          this.tcp,
          this.host,
          o.maxMessageBytes ?? this.host.limits.maxMessageBytes,
        ),
    });
    this.inHandler = true;
    let res: Response;
    try {
      // A handler that never answers must not keep the exchange alive past an abort.
      const answer = (async () =>
        await this.host.handler(req, { remoteAddr: this.tcp.remoteAddr }))();
      answer.catch(() => {}); // a failure after an abort has no one to tell
      res = await Promise.race([answer, this.aborted.promise]);
    } catch (err) {
      if (this.closed) throw err;
      this.host.report(err);
      res = plainResponse(500, "internal server error");
    }
    this.inHandler = false;
    const upgrade = upgradeOf(res);
    if (socket && upgrade?.socket === socket && !this.closed) {
      if (this.host.stopping) {
        socket.abandon();
        return plainResponse(503, "server shutting down");
      }
      socket.open(switchingProtocols(await acceptKey(upgrade.key), res.headers), rest);
      return "upgraded";
    }
    socket?.abandon();
    return res;
  }

  /** The Request for `head`, with its body read (`rest` holds the bytes already read). */
  private async request(head: RequestHead, rest: Uint8Array): Promise<Request> {
    const url = requestUrl(head, `${this.tcp.localAddr.hostname}:${this.tcp.localAddr.port}`);
    const length = bodyLength(head);
    if (length > this.host.limits.maxRequestBodyBytes) {
      throw new HttpError(
        413,
        `request body exceeds ${this.host.limits.maxRequestBodyBytes} bytes`,
      );
    }
    let body: Uint8Array<ArrayBuffer> | undefined;
    if (length > 0) {
      if (head.headers.get("expect")?.toLowerCase() === "100-continue" && rest.length === 0) {
        await writeAll(this.tcp, new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n"));
      }
      body = new Uint8Array(length);
      let got = Math.min(length, rest.length);
      body.set(rest.subarray(0, got));
      while (got < length) {
        const n = await this.tcp.read(body.subarray(got));
        if (n === null) throw new Error("closed before the request body ended");
        got += n;
      }
    }
    const withBody = body !== undefined && head.method !== "GET" && head.method !== "HEAD";
    try {
      return new Request(url, {
        method: head.method,
        headers: head.headers,
        ...(withBody ? { body: body! } : {}),
      });
    } catch {
      throw new HttpError(400, `unsupported request: ${head.method}`);
    }
  }

  /**
   * Closes the way HTTP wants: no more from us, then read until the client closes (bounded), so
   * unread request bytes do not turn our close into a reset that loses the response.
   */
  private async linger(): Promise<void> {
    await this.tcp.closeWrite();
    this.arm(Math.min(2000, this.host.limits.requestTimeoutMs));
    while ((await this.tcp.read(discard)) !== null) { /* discard */ }
  }
}

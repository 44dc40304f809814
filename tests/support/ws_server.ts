/**
 * A lib/websocket server for tests, on either transport: it echoes every message on /ws and
 * serves a few plain HTTP routes; plus helpers to drive Deno's WebSocket client.
 */
import assert from "node:assert/strict";
import {
  startWsServer,
  UpgradeError,
  upgradeWebSocket,
  type WsConnection,
  type WsServer,
  type WsServerOptions,
} from "../../lib/websocket/mod.ts";
import { closeOf, type RawClient } from "./raw_ws.ts";

export interface Harness {
  server: WsServer;
  port: number;
  url: string;
  /** Every socket accepted, in order, with what happened to it. */
  sockets: Accepted[];
  errors: unknown[];
}

export interface Accepted {
  socket: WsConnection;
  closed?: { code: number; reason: string };
  protocolErrors: number[];
}

export type TransportName = "node" | "deno";

/** Each test runs on both transports. */
export function test(name: string, fn: (transport: TransportName) => Promise<void>): void {
  for (const transport of ["node", "deno"] as const) {
    Deno.test(`${name} [${transport}]`, () => fn(transport));
  }
}

/** A server echoing every message on /ws, with a few plain HTTP routes. */
export async function start(
  transport: TransportName,
  options: WsServerOptions = {},
  onSocket?: (a: Accepted) => void,
): Promise<Harness> {
  const sockets: Accepted[] = [];
  const errors: unknown[] = [];
  const server = await startWsServer(async (req) => {
    const url = new URL(req.url);
    switch (url.pathname) {
      case "/health":
        return new Response("ok");
      case "/refuse":
        return Response.json({ error: "unauthorized" }, { status: 401 });
      case "/throw":
        throw new Error("handler failure");
      case "/echo":
        return new Response(await req.text(), { headers: { "x-method": req.method } });
      case "/hang":
        return new Promise<Response>(() => {});
      case "/stream": {
        let i = 0;
        const body = new ReadableStream<Uint8Array>({
          pull(c) {
            if (i === 200) return c.close();
            c.enqueue(new TextEncoder().encode(String(i++ % 10).repeat(1000)));
          },
        });
        return new Response(body);
      }
      case "/ws": {
        let upgrade;
        try {
          upgrade = upgradeWebSocket(req);
        } catch (err) {
          if (err instanceof UpgradeError) return err.response();
          throw err;
        }
        const a: Accepted = { socket: upgrade.socket, protocolErrors: [] };
        sockets.push(a);
        const s = upgrade.socket;
        s.onmessage = (data) => typeof data === "string" ? s.send(data) : s.sendBinary(data);
        s.onclose = (code, reason) => a.closed = { code, reason };
        s.onerror = (err) => a.protocolErrors.push(err.code);
        onSocket?.(a);
        return upgrade.response;
      }
    }
    return new Response("no such route", { status: 404 });
  }, { onError: (e) => errors.push(e), transport, ...options });
  const port = server.addr.port;
  return { server, port, url: `ws://127.0.0.1:${port}/ws`, sockets, errors };
}

export function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error(`could not connect to ${url}`));
  });
}

export function closed(ws: WebSocket): Promise<CloseEvent> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) throw new Error("already closed");
    ws.addEventListener("close", (e) => resolve(e), { once: true });
  });
}

export function messages(ws: WebSocket, count: number): Promise<unknown[]> {
  const got: unknown[] = [];
  return new Promise((resolve) => {
    ws.onmessage = (e) => {
      got.push(e.data);
      if (got.length === count) resolve(got);
    };
  });
}

/** Expects the server to fail the connection: its close frame, then the end of the stream. */
export async function failsWith(client: RawClient, code: number, pattern: RegExp): Promise<void> {
  const frames = await client.framesToEnd();
  const close = closeOf(frames.at(-1));
  assert.equal(close.code, code, `close ${close.code} ${close.reason}`);
  assert.match(close.reason, pattern);
  client.close();
}

/**
 * lib/websocket on real sockets: Deno's own WebSocket client, fetch, and raw TCP clients sending
 * hostile input. Every server here is started on a free port and shut down by its test.
 */
import assert from "node:assert/strict";
import { Opcode } from "../lib/websocket/frame.ts";
import {
  encodeTextFrame,
  startWsServer,
  UpgradeError,
  upgradeWebSocket,
  type WsConnection,
  type WsServer,
  type WsServerOptions,
} from "../lib/websocket/mod.ts";
import { closeOf, RawClient } from "./support/raw_ws.ts";
import { waitFor } from "./support/wait.ts";

interface Harness {
  server: WsServer;
  port: number;
  url: string;
  /** Every socket accepted, in order, with what happened to it. */
  sockets: Accepted[];
  errors: unknown[];
}

interface Accepted {
  socket: WsConnection;
  closed?: { code: number; reason: string };
  protocolErrors: number[];
}

type TransportName = "node" | "deno";

/** Each test runs on both transports. */
function test(name: string, fn: (transport: TransportName) => Promise<void>): void {
  for (const transport of ["node", "deno"] as const) {
    Deno.test(`${name} [${transport}]`, () => fn(transport));
  }
}

/** A server echoing every message on /ws, with a few plain HTTP routes. */
async function start(
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

function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error(`could not connect to ${url}`));
  });
}

function closed(ws: WebSocket): Promise<CloseEvent> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) throw new Error("already closed");
    ws.addEventListener("close", (e) => resolve(e), { once: true });
  });
}

function messages(ws: WebSocket, count: number): Promise<unknown[]> {
  const got: unknown[] = [];
  return new Promise((resolve) => {
    ws.onmessage = (e) => {
      got.push(e.data);
      if (got.length === count) resolve(got);
    };
  });
}

/** Expects the server to fail the connection: its close frame, then the end of the stream. */
async function failsWith(client: RawClient, code: number, pattern: RegExp): Promise<void> {
  const frames = await client.framesToEnd();
  const close = closeOf(frames.at(-1));
  assert.equal(close.code, code, `close ${close.code} ${close.reason}`);
  assert.match(close.reason, pattern);
  client.close();
}

test("Deno's WebSocket client: echo of text and binary, close codes both ways", async (transport) => {
  const h = await start(transport);
  try {
    const ws = await open(h.url);
    ws.binaryType = "arraybuffer";
    const got = messages(ws, 3);
    ws.send("héllo");
    ws.send(new Uint8Array([1, 2, 3]));
    ws.send("x".repeat(100_000));
    const [a, b, c] = await got;
    assert.equal(a, "héllo");
    assert.deepEqual([...new Uint8Array(b as ArrayBuffer)], [1, 2, 3]);
    assert.equal((c as string).length, 100_000);
    assert.equal(h.server.connections, 1);
    assert.equal(h.sockets[0]!.socket.remoteAddr.hostname, "127.0.0.1");

    const end = closed(ws);
    ws.close(4001, "client leaves");
    assert.equal((await end).code, 4001);
    await waitFor(() => h.sockets[0]!.closed, "the server's onclose");
    assert.deepEqual(h.sockets[0]!.closed, { code: 4001, reason: "client leaves" });
    assert.equal(h.server.connections, 0);

    const ws2 = await open(h.url);
    const end2 = closed(ws2);
    h.sockets[1]!.socket.close(4000, "server leaves");
    const e = await end2;
    assert.deepEqual([e.code, e.reason], [4000, "server leaves"]);
    await waitFor(() => h.sockets[1]!.closed, "the server's onclose");
    assert.equal(h.sockets[1]!.closed!.code, 4000);
  } finally {
    await h.server.shutdown(2000);
  }
});

test("plain HTTP requests reach the handler; its refusals stop an upgrade", async (transport) => {
  const h = await start(transport);
  const base = `http://127.0.0.1:${h.port}`;
  try {
    const health = await fetch(`${base}/health`);
    assert.equal(health.status, 200);
    assert.equal(health.headers.get("content-length"), "2");
    assert.equal(await health.text(), "ok");

    const refused = await fetch(`${base}/refuse`);
    assert.equal(refused.status, 401);
    assert.deepEqual(await refused.json(), { error: "unauthorized" });
    await assert.rejects(open(`ws://127.0.0.1:${h.port}/refuse`));

    const streamed = await fetch(`${base}/stream`);
    assert.equal(streamed.headers.get("transfer-encoding"), "chunked");
    const text = await streamed.text();
    assert.equal(text.length, 200_000);
    assert.equal(text.slice(9000, 9003), "999");

    const echo = await fetch(`${base}/echo`, { method: "POST", body: "posted body" });
    assert.equal(await echo.text(), "posted body");
    assert.equal(echo.headers.get("x-method"), "POST");

    const failed = await fetch(`${base}/throw`);
    assert.equal(failed.status, 500);
    await failed.body?.cancel();
    assert.match(String(h.errors[0]), /handler failure/);

    const missing = await fetch(`${base}/nowhere`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();

    // Asking /ws for another protocol version: 426, naming version 13.
    const raw = await RawClient.connect(h.port, false);
    await raw.writeText(
      "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
    );
    const answer = await raw.readToEnd();
    raw.close();
    assert.match(answer, /^HTTP\/1\.1 426 /);
    assert.match(answer, /sec-websocket-version: 13/);
  } finally {
    await h.server.shutdown(2000);
  }
});

test("frames sent right behind the request head are not lost", async (transport) => {
  const h = await start(transport);
  try {
    const raw = await RawClient.connect(h.port, false);
    const frame = encodeMasked("early");
    const head = new TextEncoder().encode(
      `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    const both = new Uint8Array(head.length + frame.length);
    both.set(head);
    both.set(frame, head.length);
    await raw.write(both);
    assert.match(await raw.readHead(), /^HTTP\/1\.1 101 /);
    const echo = await raw.nextFrame();
    assert.equal(new TextDecoder().decode(echo!.payload), "early");
    raw.close();
  } finally {
    await h.server.shutdown(2000);
  }
});

function encodeMasked(text: string): Uint8Array {
  const payload = new TextEncoder().encode(text);
  const frame = new Uint8Array(6 + payload.length);
  frame.set([0x81, 0x80 | payload.length, 0, 0, 0, 0]); // a zero mask is a mask
  frame.set(payload, 6);
  return frame;
}

test("an oversized frame is refused with 1009 from its header alone", async (transport) => {
  const h = await start(transport, { maxMessageBytes: 1000 });
  try {
    const raw = await RawClient.connect(h.port);
    // 1 GiB announced, 10 bytes sent: the answer cannot be waiting for the payload.
    await raw.write(new Uint8Array([0x82, 0xff, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3, 4]));
    await raw.write(new Uint8Array(10));
    await failsWith(raw, 1009, /exceeds 1000 bytes/);
    assert.deepEqual(h.sockets[0]!.protocolErrors, [1009]);
    await waitFor(() => h.sockets[0]!.closed, "onclose");
    assert.equal(h.sockets[0]!.closed!.code, 1006);

    // Across fragments: 600 + 600 bytes.
    const frag = await RawClient.connect(h.port);
    await frag.sendFrame(Opcode.text, "a".repeat(600), { fin: false });
    await frag.sendFrame(Opcode.continuation, "b".repeat(600));
    await failsWith(frag, 1009, /exceeds/);
    assert.equal((await fetch(`http://127.0.0.1:${h.port}/health`)).status, 200);
  } finally {
    await h.server.shutdown(2000);
  }
});

test("protocol violations close with 1002 or 1007", async (transport) => {
  const h = await start(transport);
  try {
    const cases: [string, (c: RawClient) => Promise<void>, number, RegExp][] = [
      ["unmasked", (c) => c.sendFrame(Opcode.text, "hi", { mask: false }), 1002, /masked/],
      [
        "invalid UTF-8",
        (c) => c.sendFrame(Opcode.text, new Uint8Array([0xc3, 0x28])),
        1007,
        /UTF-8/,
      ],
      ["fragmented ping", (c) => c.sendFrame(Opcode.ping, "p", { fin: false }), 1002, /fragmented/],
      [
        "close code 1005",
        (c) => c.sendFrame(Opcode.close, new Uint8Array([3, 0xed])),
        1002,
        /1005/,
      ],
      ["close code 999", (c) => c.sendFrame(Opcode.close, new Uint8Array([3, 0xe7])), 1002, /999/],
      ["opcode 5", (c) => c.sendFrame(5, "x"), 1002, /unknown opcode/],
      [
        "interleaved messages",
        async (c) => {
          await c.sendFrame(Opcode.text, "a", { fin: false });
          await c.sendFrame(Opcode.binary, "b");
        },
        1002,
        /before the fragmented one ended/,
      ],
    ];
    for (const [name, send, code, pattern] of cases) {
      const raw = await RawClient.connect(h.port);
      await send(raw);
      await failsWith(raw, code, pattern).catch((err) => {
        throw new Error(`${name}: ${err.message}`);
      });
    }
    await waitFor(() => h.sockets.every((s) => s.closed), "every onclose");
    assert.equal(h.server.connections, 0);
  } finally {
    await h.server.shutdown(2000);
  }
});

test("control frames between fragments are answered; the message arrives whole", async (transport) => {
  const h = await start(transport);
  try {
    const raw = await RawClient.connect(h.port);
    await raw.sendFrame(Opcode.text, "ab", { fin: false });
    await raw.sendFrame(Opcode.ping, "still there?");
    await raw.sendFrame(Opcode.continuation, "cd");
    const pong = await raw.nextFrame();
    assert.equal(pong!.opcode, Opcode.pong);
    assert.equal(new TextDecoder().decode(pong!.payload), "still there?");
    const echo = await raw.nextFrame();
    assert.deepEqual([echo!.opcode, new TextDecoder().decode(echo!.payload)], [
      Opcode.text,
      "abcd",
    ]);

    // A client's close without a status: echoed empty; onclose reports 1005.
    await raw.sendFrame(Opcode.close);
    const frames = await raw.framesToEnd();
    assert.equal(closeOf(frames.at(-1)).code, 1005);
    raw.close();
    await waitFor(() => h.sockets[0]!.closed, "onclose");
    assert.equal(h.sockets[0]!.closed!.code, 1005);
  } finally {
    await h.server.shutdown(2000);
  }
});

test("a client that never finishes its request head is dropped; a huge head gets 431", async (transport) => {
  const h = await start(transport, { requestTimeoutMs: 300, maxHeaderBytes: 4096 });
  try {
    const slow = await RawClient.connect(h.port, false);
    await slow.writeText("GET /health HTTP/1.1\r\nHost: x\r\n");
    assert.equal(await slow.readToEnd(), ""); // ends without an answer
    slow.close();

    const silent = await RawClient.connect(h.port, false);
    assert.equal(await silent.readToEnd(), "");
    silent.close();

    const huge = await RawClient.connect(h.port, false);
    await huge.writeText(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(8000)}`);
    assert.match(await huge.readToEnd(), /^HTTP\/1\.1 431 /);
    huge.close();
  } finally {
    await h.server.shutdown(2000);
  }
});

test("a client that vanishes without a close frame is reported with 1006", async (transport) => {
  const h = await start(transport);
  try {
    const raw = await RawClient.connect(h.port);
    raw.close();
    await waitFor(() => h.sockets[0]!.closed, "onclose");
    assert.equal(h.sockets[0]!.closed!.code, 1006);
    assert.equal(h.server.connections, 0);
  } finally {
    await h.server.shutdown(2000);
  }
});

test("heartbeat: a peer that answers pings stays, one that does not is dropped", async (transport) => {
  const h = await start(transport, { idleTimeoutSeconds: 0.2 });
  try {
    const ws = await open(h.url); // Deno's client answers pings itself
    const mute = await RawClient.connect(h.port); // reads, never answers
    const frames = await mute.framesToEnd();
    assert.equal(frames[0]?.opcode, Opcode.ping);
    mute.close();
    await waitFor(() => h.sockets[1]!.closed, "the mute peer's onclose");
    assert.deepEqual(h.sockets[1]!.closed, { code: 1006, reason: "no answer to ping" });
    // The mute peer was dropped after several rounds of pings; the other one is still open.
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.equal(h.sockets[0]!.closed, undefined);
    const end = closed(ws);
    ws.close();
    await end;
  } finally {
    await h.server.shutdown(2000);
  }
});

test("bufferedAmount counts what the kernel has not taken; terminate drops it", async (transport) => {
  const h = await start(transport);
  try {
    const raw = await RawClient.connect(h.port); // does not read for now
    await waitFor(() => h.sockets[0], "the socket");
    const s = h.sockets[0]!.socket;
    const frame = encodeTextFrame("z".repeat(64 * 1024));
    for (let i = 0; i < 1000; i++) s.sendFrame(frame); // 64 MiB: more than loopback buffers hold
    assert.equal(s.bufferedAmount, frame.length * 1000);
    let last = -1;
    // Settles once the kernel buffers are full: the rest stays counted.
    await waitFor(async () => {
      await new Promise((r) => setTimeout(r, 100));
      const same = s.bufferedAmount === last;
      last = s.bufferedAmount;
      return same;
    }, "the send buffer to fill");
    assert.ok(s.bufferedAmount > 0 && s.bufferedAmount < frame.length * 1000);
    // Reading a few frames lets more through.
    for (let i = 0; i < 20; i++) await raw.nextFrame();
    await waitFor(() => s.bufferedAmount < last, "bufferedAmount to fall");
    s.terminate();
    await waitFor(() => h.sockets[0]!.closed, "onclose");
    assert.deepEqual(h.sockets[0]!.closed, { code: 1006, reason: "terminated" });
    assert.equal(s.readyState, 3);
    raw.close();
  } finally {
    await h.server.shutdown(2000);
  }
});

test("1,000 concurrent connections: echo, then one frame fanned out to all", async (transport) => {
  const h = await start(transport);
  const clients: RawClient[] = [];
  try {
    for (let i = 0; i < 1000; i += 100) {
      clients.push(
        ...await Promise.all(Array.from({ length: 100 }, () => RawClient.connect(h.port))),
      );
    }
    await Promise.all(clients.map((c, i) => c.sendFrame(Opcode.text, `hello ${i}`)));
    const echoes = await Promise.all(clients.map((c) => c.nextFrame()));
    assert.deepEqual(
      echoes.map((f) => new TextDecoder().decode(f!.payload)),
      clients.map((_, i) => `hello ${i}`),
    );
    assert.equal(h.server.connections, 1000);

    const frame = encodeTextFrame('{"type":"change"}');
    for (const a of h.sockets) a.socket.sendFrame(frame);
    const got = await Promise.all(clients.map((c) => c.nextFrame()));
    assert.ok(got.every((f) => new TextDecoder().decode(f!.payload) === '{"type":"change"}'));

    for (const c of clients) c.close();
    await waitFor(() => h.server.connections === 0, "every connection to end");
    assert.ok(h.sockets.every((a) => a.closed?.code === 1006));
  } finally {
    for (const c of clients) c.close();
    await h.server.shutdown(2000);
  }
});

test("shutdown ends within its timeout whatever the peers do", async (transport) => {
  const h = await start(transport);
  const ws = await open(h.url);
  const wsClosed = closed(ws);
  // Half-open: upgraded, then never reads nor answers; its buffers are full, so even our close
  // frame cannot be written.
  const stuck = await RawClient.connect(h.port);
  await waitFor(() => h.sockets.length === 2, "both sockets");
  const frame = encodeTextFrame("y".repeat(64 * 1024));
  for (let i = 0; i < 500; i++) h.sockets[1]!.socket.sendFrame(frame);
  // Mid-head, and a request whose handler never answers.
  const midHead = await RawClient.connect(h.port, false);
  await midHead.writeText("GET /health HTTP/1.1\r\n");
  const hanging = fetch(`http://127.0.0.1:${h.port}/hang`).catch((e) => e);
  await new Promise((r) => setTimeout(r, 100)); // let the server take the request

  const started = Date.now();
  await h.server.shutdown(2000);
  const took = Date.now() - started;
  assert.ok(took < 5000, `shutdown took ${took} ms`);
  assert.equal((await wsClosed).code, 1001);
  assert.ok((await hanging) instanceof TypeError, "the hanging request fails");
  assert.equal(h.server.connections, 0);
  assert.equal(h.sockets[1]!.closed?.code, 1006);
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: h.port }));
  stuck.close();
  midHead.close();
});

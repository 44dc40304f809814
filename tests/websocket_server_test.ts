/**
 * lib/websocket on real sockets, WebSocket side: Deno's own WebSocket client and raw TCP clients
 * sending hostile frames. Every test runs on both transports (node:net and Deno.listen).
 */
import assert from "node:assert/strict";
import { Opcode } from "../lib/websocket/frame.ts";
import { encodeFrame } from "../lib/websocket/frame.ts";
import { encodeTextFrame } from "../lib/websocket/mod.ts";
import { closeOf, RawClient } from "./support/raw_ws.ts";
import { waitFor } from "./support/wait.ts";
import { closed, failsWith, messages, open, start, test } from "./support/ws_server.ts";

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

test("onerror lets the application say why before the 1009 close", async (transport) => {
  const h = await start(transport, { maxMessageBytes: 100 }, (a) => {
    a.socket.onerror = (err) => {
      a.protocolErrors.push(err.code);
      a.socket.send(JSON.stringify({ type: "error", code: "bad_request", message: err.message }));
    };
  });
  try {
    const raw = await RawClient.connect(h.port);
    await raw.sendFrame(Opcode.text, "x".repeat(200));
    const frames = await raw.framesToEnd();
    assert.equal(frames.length, 2);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(frames[0]!.payload)), {
      type: "error",
      code: "bad_request",
      message: "message exceeds 100 bytes",
    });
    assert.equal(closeOf(frames[1]).code, 1009);
    raw.close();
  } finally {
    await h.server.shutdown(2000);
  }
});

test("close() refuses what a close frame cannot carry; sends after closing are dropped", async (transport) => {
  const h = await start(transport);
  try {
    const ws = await open(h.url);
    const s = h.sockets[0]!.socket;
    assert.throws(() => s.close(1005), RangeError);
    assert.throws(() => s.close(999), RangeError);
    assert.throws(() => s.close(4000, "é".repeat(62)), /123 bytes/);
    assert.equal(s.readyState, 1);
    const end = closed(ws);
    s.close(1000, "é".repeat(61)); // 122 bytes: fits
    assert.equal(s.readyState, 2);
    s.send("too late");
    assert.equal((await end).reason, "é".repeat(61));
    await waitFor(() => h.sockets[0]!.closed, "onclose");
    s.send("later still");
    assert.equal(s.bufferedAmount, 0);
    assert.equal(s.readyState, 3);
  } finally {
    await h.server.shutdown(2000);
  }
});

test("a peer that never answers our close frame is dropped after closeTimeoutMs", async (transport) => {
  const h = await start(transport, { closeTimeoutMs: 200 });
  try {
    const raw = await RawClient.connect(h.port);
    await waitFor(() => h.sockets[0], "the socket");
    h.sockets[0]!.socket.close(4000, "bye");
    const frames = await raw.framesToEnd(); // reads, never answers
    assert.deepEqual(closeOf(frames.at(-1)), { code: 4000, reason: "bye" });
    raw.close();
    await waitFor(() => h.sockets[0]!.closed, "onclose");
    assert.deepEqual(h.sockets[0]!.closed, { code: 1006, reason: "closing handshake timed out" });
  } finally {
    await h.server.shutdown(2000);
  }
});

test("closing in the handler, before the upgrade is done: 101, then the close frame", async (transport) => {
  const h = await start(transport, {}, (a) => a.socket.close(4002, "not today"));
  try {
    const raw = await RawClient.connect(h.port); // answered 101
    const frames = await raw.framesToEnd();
    assert.deepEqual(closeOf(frames.at(-1)), { code: 4002, reason: "not today" });
    raw.close();
  } finally {
    await h.server.shutdown(2000);
  }
});

test("a peer that pings without reading cannot fill our memory with pongs", async (transport) => {
  let ended = false;
  const h = await start(transport, {}, (a) => {
    a.socket.onmessage = (d) => {
      ended = d === "end";
      a.socket.send(String(d));
    };
  });
  try {
    const raw = await RawClient.connect(h.port); // does not read while it pings
    await waitFor(() => h.sockets[0], "the socket");
    const ping = encodeFrame(Opcode.ping, new Uint8Array(125), { mask: new Uint8Array(4) });
    const batch = new Uint8Array(ping.length * 1000);
    for (let i = 0; i < 1000; i++) batch.set(ping, i * ping.length);
    for (let i = 0; i < 200; i++) await raw.write(batch); // 25 MB of pongs if all were queued
    await raw.sendFrame(Opcode.text, "end");
    await waitFor(() => ended, "every ping to be read");
    const queued = h.sockets[0]!.socket.bufferedAmount;
    assert.ok(queued <= 16 * 1024 + 200, `${queued} bytes queued`);
    let pongs = 0;
    for (let f = await raw.nextFrame(); f && f.opcode !== Opcode.text; f = await raw.nextFrame()) {
      if (f.opcode === Opcode.pong) pongs++;
    }
    assert.ok(pongs > 0 && pongs < 200_000, `${pongs} pongs`);
    raw.close();
  } finally {
    await h.server.shutdown(2000);
  }
});

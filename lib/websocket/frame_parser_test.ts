import assert from "node:assert/strict";
import { CloseCode, encodeFrame, Opcode } from "./frame.ts";
import { FrameParser, WsProtocolError } from "./frame_parser.ts";

type Event = [string, unknown?, unknown?];

function parser(max = 1024) {
  const events: Event[] = [];
  const p = new FrameParser(max, {
    onText: (t) => events.push(["text", t]),
    onBinary: (b) => events.push(["binary", [...b]]),
    onPing: (b) => events.push(["ping", [...b]]),
    onPong: (b) => events.push(["pong", [...b]]),
    onClose: (code, reason) => events.push(["close", code, reason]),
  });
  return { p, events };
}

const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
const bytes = (s: string) => new TextEncoder().encode(s);
/** A frame as a client sends it: masked. */
const client = (opcode: number, payload: Uint8Array | string, fin = true) =>
  encodeFrame(opcode, typeof payload === "string" ? bytes(payload) : payload, { fin, mask: key });
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), at += p.length;
  return out;
};

function rejects(push: () => void, code: number, pattern: RegExp) {
  assert.throws(push, (err) => {
    assert.ok(err instanceof WsProtocolError);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  });
}

Deno.test("frames split at every possible byte boundary parse the same", () => {
  const stream = concat(
    client(Opcode.text, "héllo wörld"),
    client(Opcode.ping, "p"),
    client(Opcode.binary, new Uint8Array(300).map((_, i) => i & 0xff)),
    client(Opcode.text, ""),
    client(Opcode.binary, new Uint8Array(70_000).fill(9)),
    client(Opcode.close, concat(new Uint8Array([0x03, 0xe8]), bytes("done"))),
  );
  const whole = parser(100_000);
  whole.p.push(stream);
  assert.equal(whole.events.length, 6);
  assert.deepEqual(whole.events[0], ["text", "héllo wörld"]);
  assert.deepEqual(whole.events[1], ["ping", [0x70]]);
  assert.equal((whole.events[2]![1] as number[])[299], 299 & 0xff);
  assert.deepEqual(whole.events[3], ["text", ""]);
  assert.equal((whole.events[4]![1] as number[]).length, 70_000);
  assert.deepEqual(whole.events[5], ["close", 1000, "done"]);
  for (const size of [1, 2, 3, 5, 13, 64]) {
    const split = parser(100_000);
    for (let at = 0; at < stream.length; at += size) split.p.push(stream.subarray(at, at + size));
    assert.deepEqual(split.events, whole.events, `chunks of ${size}`);
  }
});

Deno.test("the caller may reuse its chunk: delivered payloads are copies", () => {
  const { p, events } = parser();
  const chunk = client(Opcode.binary, new Uint8Array([1, 2, 3]));
  p.push(chunk);
  chunk.fill(0);
  assert.deepEqual(events, [["binary", [1, 2, 3]]]);
});

Deno.test("fragments join into one message; control frames may come between them", () => {
  const { p, events } = parser();
  // "€" is split across fragments: UTF-8 is checked on the whole message.
  const euro = bytes("€");
  p.push(client(Opcode.text, concat(bytes("a"), euro.subarray(0, 1)), false));
  p.push(client(Opcode.ping, "x"));
  p.push(client(Opcode.continuation, euro.subarray(1), false));
  p.push(client(Opcode.continuation, "b"));
  p.push(client(Opcode.binary, "c", false));
  p.push(client(Opcode.continuation, "d"));
  assert.deepEqual(events, [["ping", [0x78]], ["text", "a€b"], ["binary", [0x63, 0x64]]]);
});

Deno.test("an oversized frame is refused from its header, before any payload", () => {
  const { p } = parser(1000);
  // 127 = 64-bit length: 1 GiB announced; only the 14 header bytes are pushed.
  const head = new Uint8Array([0x82, 0xff, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3, 4]);
  rejects(() => p.push(head), CloseCode.messageTooBig, /exceeds 1000 bytes/);
  // A header split across reads: refused once its last byte (the mask's) is here.
  const { p: p2 } = parser(1000);
  p2.push(new Uint8Array([0x81, 0xfe, 0x03, 0xe9])); // 1001 bytes announced
  rejects(() => p2.push(new Uint8Array([1, 2, 3, 4])), CloseCode.messageTooBig, /exceeds/);
});

Deno.test("the size limit applies to the whole fragmented message", () => {
  const { p, events } = parser(10);
  p.push(client(Opcode.text, "123456", false));
  rejects(
    () => p.push(client(Opcode.continuation, "12345").subarray(0, 6)),
    CloseCode.messageTooBig,
    /exceeds 10/,
  );
  assert.deepEqual(events, []);
  const ok = parser(10);
  ok.p.push(client(Opcode.text, "12345", false));
  ok.p.push(client(Opcode.continuation, "12345"));
  assert.deepEqual(ok.events, [["text", "1234512345"]]);
});

Deno.test("protocol violations fail with 1002", () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ["unmasked", encodeFrame(Opcode.text, bytes("hi")), /masked/],
    ["reserved bits", encodeFrame(Opcode.text, bytes("hi"), { mask: key, rsv: 4 }), /reserved/],
    ["opcode 3", client(3, "x"), /unknown opcode 3/],
    ["opcode 11", client(11, "x"), /unknown opcode 11/],
    ["fragmented ping", client(Opcode.ping, "x", false), /fragmented/],
    ["long ping", client(Opcode.ping, new Uint8Array(126)), /125/],
    ["lone continuation", client(Opcode.continuation, "x"), /without a message/],
    [
      "interleaved messages",
      concat(client(Opcode.text, "a", false), client(Opcode.text, "b")),
      /before the fragmented one ended/,
    ],
    ["close of one byte", client(Opcode.close, new Uint8Array([3])), /one byte/],
    ["close 1005", client(Opcode.close, new Uint8Array([0x03, 0xed])), /invalid close code 1005/],
    ["close 999", client(Opcode.close, new Uint8Array([0x03, 0xe7])), /invalid close code/],
    ["close 5000", client(Opcode.close, new Uint8Array([0x13, 0x88])), /invalid close code/],
    [
      "64-bit length top bit",
      new Uint8Array([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]),
      /top bit/,
    ],
  ];
  for (const [name, frame, pattern] of cases) {
    const { p } = parser();
    rejects(() => p.push(frame), CloseCode.protocolError, pattern);
    assert.ok(name);
  }
});

Deno.test("invalid UTF-8 in a text message or close reason fails with 1007", () => {
  const bad = new Uint8Array([0x61, 0xc3, 0x28]);
  rejects(() => parser().p.push(client(Opcode.text, bad)), CloseCode.invalidPayload, /UTF-8/);
  const split = parser();
  split.p.push(client(Opcode.text, bytes("ok"), false));
  rejects(
    () => split.p.push(client(Opcode.continuation, new Uint8Array([0xff]))),
    CloseCode.invalidPayload,
    /text message/,
  );
  rejects(
    () => parser().p.push(client(Opcode.close, concat(new Uint8Array([3, 0xe8]), bad))),
    CloseCode.invalidPayload,
    /close reason/,
  );
  // Binary messages are not text: any bytes pass.
  const bin = parser();
  bin.p.push(client(Opcode.binary, bad));
  assert.deepEqual(bin.events, [["binary", [...bad]]]);
});

Deno.test("a close frame without a status reports no code", () => {
  const { p, events } = parser();
  p.push(client(Opcode.close, new Uint8Array(0)));
  p.push(client(Opcode.pong, "z"));
  assert.deepEqual(events, [["close", undefined, ""], ["pong", [0x7a]]]);
});

Deno.test("a byte-order mark at the start of a text message is kept", () => {
  const { p, events } = parser();
  p.push(client(Opcode.text, "\ufeffx"));
  assert.deepEqual(events, [["text", "\ufeffx"]]);
});

Deno.test("a message sent one byte per frame arrives whole; empty fragments cost nothing", () => {
  const { p, events } = parser(10_000);
  p.push(client(Opcode.binary, new Uint8Array([0]), false));
  for (let i = 1; i < 5000; i++) {
    p.push(client(Opcode.continuation, new Uint8Array([i & 0xff]), false));
    p.push(client(Opcode.continuation, new Uint8Array(0), false));
  }
  p.push(client(Opcode.continuation, new Uint8Array(0)));
  assert.equal(events.length, 1);
  const data = events[0]![1] as number[];
  assert.equal(data.length, 5000);
  assert.equal(data[4999], 4999 & 0xff);
});

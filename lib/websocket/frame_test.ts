import assert from "node:assert/strict";
import {
  encodeCloseFrame,
  encodeFrame,
  encodeTextFrame,
  isValidCloseCode,
  Opcode,
  utf8Prefix,
} from "./frame.ts";

Deno.test("encodeFrame picks the 7-bit, 16-bit or 64-bit length form", () => {
  for (const [len, head] of [[0, 2], [125, 2], [126, 4], [65535, 4], [65536, 10]] as const) {
    const frame = encodeFrame(Opcode.binary, new Uint8Array(len).fill(7));
    assert.equal(frame.length, head + len, `length ${len}`);
    assert.equal(frame[0], 0x82);
    assert.equal(frame[head], len ? 7 : undefined);
  }
  const big = encodeFrame(Opcode.binary, new Uint8Array(70_000));
  assert.equal(big[1], 127);
  assert.equal(new DataView(big.buffer).getUint32(6), 70_000);
  const mid = encodeFrame(Opcode.binary, new Uint8Array(300));
  assert.deepEqual([...mid.subarray(1, 4)], [126, 1, 44]);
});

Deno.test("encodeTextFrame is a final unmasked text frame carrying UTF-8", () => {
  const frame = encodeTextFrame("héllo");
  assert.deepEqual([...frame.subarray(0, 2)], [0x81, 6]);
  assert.equal(new TextDecoder().decode(frame.subarray(2)), "héllo");
});

Deno.test("encodeFrame masks the payload with the given key", () => {
  const mask = new Uint8Array([1, 2, 3, 4]);
  const frame = encodeFrame(Opcode.text, new Uint8Array([10, 20, 30, 40, 50]), {
    mask,
    fin: false,
  });
  assert.equal(frame[0], 0x01); // not final
  assert.equal(frame[1], 0x80 | 5);
  assert.deepEqual([...frame.subarray(2, 6)], [1, 2, 3, 4]);
  assert.deepEqual([...frame.subarray(6)], [10 ^ 1, 20 ^ 2, 30 ^ 3, 40 ^ 4, 50 ^ 1]);
});

Deno.test("encodeCloseFrame carries the code and a reason cut to fit 125 bytes", () => {
  assert.deepEqual([...encodeCloseFrame()], [0x88, 0]);
  const frame = encodeCloseFrame(1001, "bye");
  assert.deepEqual([...frame.subarray(0, 4)], [0x88, 5, 0x03, 0xe9]);
  const long = encodeCloseFrame(4000, "é".repeat(100)); // 200 bytes of reason
  assert.equal(long[1], 2 + 122); // 123 bytes would split a character
  assert.equal(new TextDecoder("utf-8", { fatal: true }).decode(long.subarray(4)).length, 61);
});

Deno.test("utf8Prefix never splits a character", () => {
  assert.equal(utf8Prefix("abc", 10).length, 3);
  assert.equal(utf8Prefix("a€", 3).length, 1); // € is three bytes
  assert.equal(utf8Prefix("a€", 4).length, 4);
});

Deno.test("isValidCloseCode accepts registered and application codes only", () => {
  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1013, 3000, 4999]) {
    assert.equal(isValidCloseCode(code), true, String(code));
  }
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535, 1000.5]) {
    assert.equal(isValidCloseCode(code), false, String(code));
  }
});

/**
 * RFC 6455 frames as bytes: opcodes, close codes, and the encoder. A frame is encoded once and
 * the same bytes may be queued on many connections (fan-out), so encoders return whole frames.
 */

export const Opcode = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  unsupportedData: 1003,
  noStatus: 1005,
  abnormal: 1006,
  invalidPayload: 1007,
  policyViolation: 1008,
  messageTooBig: 1009,
  internalError: 1011,
  tryAgainLater: 1013,
} as const;

/** The largest payload of a control frame (ping, pong, close). */
export const MAX_CONTROL_PAYLOAD = 125;

const encoder = new TextEncoder();

/**
 * Whether a close code may appear in a close frame: the registered codes except those reserved
 * for reporting (1005, 1006, 1015) and 1004, plus the ranges for libraries and applications.
 */
export function isValidCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006;
}

/**
 * One frame. Server frames are sent unmasked; `mask` (four bytes) masks the payload as a client
 * must — used by tests and clients.
 */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array,
  opts: { fin?: boolean; mask?: Uint8Array; rsv?: number } = {},
): Uint8Array {
  const len = payload.length;
  const extra = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const maskBytes = opts.mask ? 4 : 0;
  const head = 2 + extra + maskBytes;
  const frame = new Uint8Array(head + len);
  frame[0] = (opts.fin === false ? 0 : 0x80) | ((opts.rsv ?? 0) << 4) | opcode;
  const maskBit = opts.mask ? 0x80 : 0;
  if (extra === 0) {
    frame[1] = maskBit | len;
  } else if (extra === 2) {
    frame[1] = maskBit | 126;
    frame[2] = len >>> 8;
    frame[3] = len & 0xff;
  } else {
    frame[1] = maskBit | 127;
    const view = new DataView(frame.buffer);
    view.setUint32(2, Math.floor(len / 2 ** 32));
    view.setUint32(6, len >>> 0);
  }
  if (opts.mask) {
    const m = opts.mask;
    frame.set(m.subarray(0, 4), 2 + extra);
    for (let i = 0; i < len; i++) frame[head + i] = payload[i]! ^ m[i & 3]!;
  } else {
    frame.set(payload, head);
  }
  return frame;
}

/** A whole text frame, ready to queue on any number of connections. */
export function encodeTextFrame(text: string): Uint8Array {
  return encodeFrame(Opcode.text, encoder.encode(text));
}

/** The text of one whole unmasked text frame (a server frame), for tests and tools. */
export function textOfFrame(frame: Uint8Array): string {
  const len7 = frame[1]! & 0x7f;
  const head = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
  return new TextDecoder().decode(frame.subarray(head));
}

export function encodeBinaryFrame(data: Uint8Array): Uint8Array {
  return encodeFrame(Opcode.binary, data);
}

/** Bytes of `text` as UTF-8, cut at a character boundary so that they fit in `max` bytes. */
export function utf8Prefix(text: string, max: number): Uint8Array {
  const bytes = encoder.encode(text);
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // do not split a character
  return bytes.subarray(0, end);
}

/** A close frame; without `code`, an empty one (the peer sees 1005, "no status"). */
export function encodeCloseFrame(code?: number, reason = ""): Uint8Array {
  if (code === undefined) return encodeFrame(Opcode.close, new Uint8Array(0));
  const text = utf8Prefix(reason, MAX_CONTROL_PAYLOAD - 2);
  const payload = new Uint8Array(2 + text.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(text, 2);
  return encodeFrame(Opcode.close, payload);
}

export const PING_FRAME: Uint8Array = encodeFrame(Opcode.ping, new Uint8Array(0));

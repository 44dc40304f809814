/**
 * Client side of the WebSocket micro-bench: many minimal WebSocket clients in one process, on
 * node:net (a read is a callback, not a promise: receiving a fan-out to 10,000 sockets costs this
 * process a fraction of what bench/raw_ws.ts does, so the figures say more about the server). For
 * each text frame it records the round and the time from the server's send stamp to receipt.
 * Stdin lines: `connect <url> <n>` (n more clients, then READY), `cpu` (CPU time so far, JSON),
 * `dump` (the receipts as one JSON line, then exit).
 */
import net from "node:net";
import process from "node:process";

const now = () => performance.timeOrigin + performance.now();
const receipts: [number, number][] = [];
const sockets: net.Socket[] = [];
const HANDSHAKE_END = "\r\n\r\n";

/** Reads `"r":<round>,"t":<stamp>` from the start of a frame's payload, without a decoder. */
function stamp(buf: Uint8Array, from: number, to: number, receivedAt: number): void {
  const text = String.fromCharCode(...buf.subarray(from, Math.min(to, from + 64)));
  const m = /"r":(\d+),"t":([\d.]+)/.exec(text);
  if (m) receipts.push([Number(m[1]), receivedAt - Number(m[2])]);
}

function open(url: URL): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port) });
    socket.setNoDelay(true);
    let upgraded = false;
    let pending: Uint8Array = new Uint8Array(0);
    socket.on("connect", () => {
      socket.write(
        `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\n` +
          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
          "Sec-WebSocket-Version: 13\r\n\r\n",
      );
    });
    socket.on("error", reject);
    socket.on("data", (chunk: Uint8Array) => {
      const t = now();
      let buf = pending.length ? concat(pending, chunk) : chunk;
      if (!upgraded) {
        const text = String.fromCharCode(...buf.subarray(0, Math.min(buf.length, 1024)));
        const end = text.indexOf(HANDSHAKE_END);
        if (end < 0) return void (pending = buf.slice());
        if (!text.startsWith("HTTP/1.1 101")) return reject(new Error(text.split("\r\n")[0]));
        upgraded = true;
        buf = buf.subarray(end + 4);
        resolve();
      }
      let at = 0;
      while (buf.length - at >= 2) {
        let len = buf[at + 1]! & 0x7f, off = at + 2;
        if (len === 126) {
          if (buf.length - at < 4) break;
          len = (buf[at + 2]! << 8) | buf[at + 3]!;
          off = at + 4;
        } else if (len === 127) {
          throw new Error("the bench sends no frames that large");
        }
        if (buf.length < off + len) break;
        const opcode = buf[at]! & 0x0f;
        if (opcode === 0x1) stamp(buf, off, off + len, t);
        else if (opcode === 0x9) socket.write(new Uint8Array([0x8a, 0x80, 0, 0, 0, 0])); // pong
        at = off + len;
      }
      pending = at < buf.length ? buf.slice(at) : new Uint8Array(0);
    });
    sockets.push(socket);
  });
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

async function connect(url: URL, count: number): Promise<void> {
  for (let i = 0; i < count; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, count - i) }, () => open(url)));
  }
  console.log("READY");
}

let input = "";
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  input += chunk;
  let nl;
  while ((nl = input.indexOf("\n")) >= 0) {
    const [cmd, a, b] = input.slice(0, nl).trim().split(" ");
    input = input.slice(nl + 1);
    if (cmd === "connect") await connect(new URL(a!), Number(b));
    else if (cmd === "cpu") {
      const { user, system } = process.cpuUsage();
      console.log(JSON.stringify({ cpu_ms: (user + system) / 1000 }));
    } else if (cmd === "dump") {
      console.log(JSON.stringify({ receipts }));
      for (const s of sockets) s.destroy();
      Deno.exit(0);
    }
  }
}

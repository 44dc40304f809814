/**
 * The server side of the WebSocket micro-bench, in its own process: `lib-node` or `lib-deno`
 * (lib/websocket on node:net or on Deno.listen) or `deno` (Deno.serve + Deno.upgradeWebSocket). It accepts every upgrade and obeys one command
 * per stdin line, answering each with one JSON line: `count`, `mem` (after a full GC), `cpu` (CPU time used so far),
 * `fanout <round>` (one ~300-byte text frame to every socket, stamped with the send time), `quit`.
 * Run with --v8-flags=--expose-gc.
 */
import process from "node:process";
import { encodeTextFrame, startWsServer, upgradeWebSocket } from "../lib/websocket/mod.ts";

const impl = Deno.args[0];
const now = () => performance.timeOrigin + performance.now();
const IDLE_SECONDS = 600; // no heartbeat traffic during the bench

let count: () => number;
let fanout: (text: string) => void;
let stop: () => Promise<void>;

if (impl === "lib-node" || impl === "lib-deno") {
  const sockets = new Set<{ sendFrame(f: Uint8Array): void }>();
  const server = await startWsServer((req) => {
    const { socket, response } = upgradeWebSocket(req);
    socket.onopen = () => sockets.add(socket);
    socket.onclose = () => sockets.delete(socket);
    return response;
  }, {
    idleTimeoutSeconds: IDLE_SECONDS,
    transport: impl === "lib-node" ? "node" : "deno",
  });
  count = () => sockets.size;
  fanout = (text) => {
    const frame = encodeTextFrame(text); // encoded once, the same bytes queued on every socket
    for (const s of sockets) s.sendFrame(frame);
  };
  stop = () => server.shutdown(1000);
  console.log(JSON.stringify({ port: server.addr.port }));
} else if (impl === "deno") {
  const sockets = new Set<WebSocket>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: IDLE_SECONDS });
    socket.onopen = () => sockets.add(socket);
    socket.onclose = () => sockets.delete(socket);
    return response;
  });
  count = () => sockets.size;
  fanout = (text) => {
    for (const s of sockets) s.send(text);
  };
  stop = () => server.shutdown();
  console.log(JSON.stringify({ port: server.addr.port }));
} else {
  throw new Error("usage: ws_server.ts lib-node|lib-deno|deno");
}

const gc = (globalThis as { gc?: () => void }).gc;
const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).values();
let pending = "";
for await (const chunk of lines) {
  pending += chunk;
  let nl;
  while ((nl = pending.indexOf("\n")) >= 0) {
    const [cmd, arg] = pending.slice(0, nl).trim().split(" ");
    pending = pending.slice(nl + 1);
    if (cmd === "count") console.log(JSON.stringify({ count: count() }));
    else if (cmd === "cpu") {
      const { user, system } = process.cpuUsage(); // microseconds, this process so far
      console.log(JSON.stringify({ cpu_ms: (user + system) / 1000 }));
    } else if (cmd === "mem") {
      gc?.();
      const m = Deno.memoryUsage();
      console.log(JSON.stringify({ rss: m.rss, heap: m.heapUsed, external: m.external }));
    } else if (cmd === "fanout") {
      const head = `{"type":"change","r":${arg},"t":${now().toFixed(3)},"pad":"`;
      const text = `${head}${"x".repeat(298 - head.length)}"}`;
      const t0 = now();
      fanout(text);
      console.log(JSON.stringify({ loop_ms: now() - t0 }));
    } else if (cmd === "quit") {
      await stop();
      Deno.exit(0);
    }
  }
}

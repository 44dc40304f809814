/**
 * SPEC §1: every service stops within 5 s of SIGTERM whatever its connections — here the whole
 * hub (`deno task dev`'s process) with a half-open WebSocket (a client that upgraded, then went
 * silent without a close frame and stopped reading) and a client that never finished its request.
 */
import assert from "node:assert/strict";
import { signToken } from "../lib/jwt.ts";
import { freePort } from "../tools/servers/process.ts";
import { testDatabase } from "./support/postgres.ts";
import { waitFor } from "./support/wait.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const SECRET = "shutdown-test-6f1c2a9e8b7d4c3f1a0e9d8c7b6a5f4e";

Deno.test("the hub stops within 5 s of SIGTERM, half-open connections and all", opts, async () => {
  const db = await testDatabase();
  const ports = { CRUD_PORT: freePort(), GATEWAY_PORT: freePort(), LISTENER_PORT: freePort() };
  const { RUST_BACKTRACE: _, ...env } = Deno.env.toObject();
  const hub = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../tools/dev.ts", import.meta.url).pathname],
    clearEnv: true,
    env: {
      ...env,
      DATABASE_URL: db.url,
      JWT_SECRET: SECRET,
      REPLICATION_SLOT: `s_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`,
      LOG_LEVEL: "error",
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const conns: Deno.TcpConn[] = [];
  try {
    for (const port of [ports.GATEWAY_PORT, ports.LISTENER_PORT, ports.CRUD_PORT]) {
      await waitFor(
        () =>
          fetch(`http://127.0.0.1:${port}/ready`).then(
            (r) => (r.body?.cancel(), r.ok),
            () => false,
          ),
        "the hub",
        60_000,
      );
    }
    await db.sql("INSERT INTO todos (bucket, title) VALUES ('a', 'in flight')");
    // A WebSocket that upgraded and then went silent: it never reads, never answers a close.
    const token = await signToken(SECRET, { sub: "t", buckets: ["a"] });
    const ws = await Deno.connect({ hostname: "127.0.0.1", port: ports.GATEWAY_PORT });
    conns.push(ws);
    await ws.write(new TextEncoder().encode(
      `GET /v1/ws?token=${token} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n` +
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
        "Sec-WebSocket-Version: 13\r\n\r\n",
    ));
    const head = new Uint8Array(512);
    const n = await ws.read(head);
    assert.match(new TextDecoder().decode(head.subarray(0, n ?? 0)), /^HTTP\/1.1 101/);
    // And a client that never finishes its request (on the REST port).
    const slow = await Deno.connect({ hostname: "127.0.0.1", port: ports.CRUD_PORT });
    conns.push(slow);
    await slow.write(new TextEncoder().encode("GET /v1/tables HTTP/1.1\r\nHost: x\r\n"));

    const started = Date.now();
    hub.kill("SIGTERM");
    const status = await hub.status;
    const took = Date.now() - started;
    console.error(`stopped ${took} ms after SIGTERM (exit code ${status.code})`);
    assert.ok(took < 5_500, `the hub took ${took} ms to stop`);
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    try {
      hub.kill("SIGKILL");
    } catch { /* gone */ }
    await hub.status;
    await db.drop();
  }
});

/**
 * SPEC §1: every service stops within 5 s of SIGTERM whatever its connections — here the whole
 * hub (`deno task dev`'s process) with a half-open WebSocket (a client that upgraded, then went
 * silent without a close frame and stopped reading) and a client that never finished its request.
 */
import assert from "node:assert/strict";
import { signToken } from "../lib/jwt.ts";
import { freePort } from "../tools/servers/process.ts";
import { taskCommand } from "../tools/tasks.ts";
import { testDatabase } from "./support/postgres.ts";
import { waitFor } from "./support/wait.ts";
import { TestClient } from "./support/ws_client.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const SECRET = "shutdown-test-6f1c2a9e8b7d4c3f1a0e9d8c7b6a5f4e";

async function startHub(db: { url: string }) {
  const ports = { CRUD_PORT: freePort(), GATEWAY_PORT: freePort(), LISTENER_PORT: freePort() };
  const { RUST_BACKTRACE: _, ...env } = Deno.env.toObject();
  const { flags, entry } = taskCommand("dev"); // what `deno task dev` runs
  const hub = new Deno.Command(Deno.execPath(), {
    args: [...flags, entry],
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
    stderr: "piped",
  }).spawn();
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
  const stderr = new Response(hub.stderr).text();
  /** SIGTERM; resolves with how long the hub took, its exit code and what it printed. */
  const stop = async () => {
    const started = Date.now();
    hub.kill("SIGTERM");
    const status = await hub.status;
    return { took: Date.now() - started, code: status.code, stderr: await stderr };
  };
  const kill = async () => {
    try {
      hub.kill("SIGKILL");
    } catch { /* gone */ }
    await hub.status;
    await stderr.catch(() => "");
  };
  return { ports, stop, kill };
}

Deno.test("the hub stops within 5 s of SIGTERM, half-open connections and all", opts, async () => {
  const db = await testDatabase();
  const hub = await startHub(db);
  const conns: Deno.TcpConn[] = [];
  try {
    await db.sql("INSERT INTO todos (bucket, title) VALUES ('a', 'in flight')");
    // A WebSocket that upgraded and then went silent: it never reads, never answers a close.
    const token = await signToken(SECRET, { sub: "t", buckets: ["a"] });
    const ws = await Deno.connect({ hostname: "127.0.0.1", port: hub.ports.GATEWAY_PORT });
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
    const slow = await Deno.connect({ hostname: "127.0.0.1", port: hub.ports.CRUD_PORT });
    conns.push(slow);
    await slow.write(new TextEncoder().encode("GET /v1/tables HTTP/1.1\r\nHost: x\r\n"));

    const { took, code, stderr } = await hub.stop();
    console.error(`stopped ${took} ms after SIGTERM (exit code ${code})`);
    assert.ok(took < 5_500, `the hub took ${took} ms to stop`);
    assert.equal(code, 0, `the hub did not stop cleanly: ${stderr}`);
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await hub.kill();
    await db.drop();
  }
});

Deno.test(
  "after streaming a large transaction to a subscriber, the hub stops cleanly",
  opts,
  async () => {
    const db = await testDatabase();
    const hub = await startHub(db);
    try {
      const token = await signToken(SECRET, { sub: "t", buckets: ["a"] });
      const client = await TestClient.connect(
        `ws://127.0.0.1:${hub.ports.GATEWAY_PORT}/v1/ws`,
        token,
      );
      await client.subscribeWhenServed("public.todos");
      const rows = 20_000;
      await db.sql(
        `INSERT INTO todos (bucket, title) SELECT 'a', 'row ' || g FROM generate_series(1, ${rows}) g`,
      );
      await waitFor(
        () => client.frames.filter((f) => f.type === "change").length >= rows,
        `${rows} changes`,
        120_000,
      );
      client.ws.close();
      // And a client that upgraded, then dropped its TCP connection without a close frame.
      const gone = await Deno.connect({ hostname: "127.0.0.1", port: hub.ports.GATEWAY_PORT });
      await gone.write(new TextEncoder().encode(
        `GET /v1/ws?token=${token} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n` +
          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
          "Sec-WebSocket-Version: 13\r\n\r\n",
      ));
      await gone.read(new Uint8Array(512));
      gone.close();
      await new Promise((r) => setTimeout(r, 200));
      const { took, code, stderr } = await hub.stop();
      console.error(`stopped ${took} ms after SIGTERM (exit code ${code})`);
      assert.equal(code, 0, `the hub did not stop cleanly: ${stderr}`);
    } finally {
      await hub.kill();
      await db.drop();
    }
  },
);

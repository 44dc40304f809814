/**
 * The gateway with real WebSocket clients, fed through the in-process bus. The catalog is fixed
 * here, so these tests need no database; the end-to-end test covers the full path.
 */
import { accessPolicy } from "../lib/access_policy.ts";
import assert from "node:assert/strict";
import { type Bus, messageFor } from "../lib/bus/bus.ts";
import { MemoryBus } from "../lib/bus/memory_bus.ts";
import { decodeCursor, encodeCursor } from "../lib/cursor.ts";
import type { Envelope } from "../lib/envelope.ts";
import { createTokenVerifier, signToken } from "../lib/jwt.ts";
import { silentLogger } from "../lib/log.ts";
import { Registry } from "../lib/metrics.ts";
import { catalogKey, type TableInfo, tableRecord } from "../lib/catalog.ts";
import { HttpSnapshotReader } from "../lib/snapshot_http.ts";
import { catalogTopic } from "../lib/topics.ts";
import { createGateway, type Gateway } from "../services/gateway/gateway.ts";
import type { GatewayLimits } from "../services/gateway/session.ts";
import { RawWsClient } from "../bench/raw_ws.ts";
import { sampleEnvelope } from "./support/envelopes.ts";
import { tableInfo } from "./support/tables.ts";
import { waitFor } from "./support/wait.ts";
import { TestClient } from "./support/ws_client.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const policy = accessPolicy(undefined, "bucket");
const SECRET = "gateway-test-secret-gateway-test-secret";
const todos = {
  ...tableInfo("public.todos", {
    id: "string",
    bucket: "string",
    title: "string",
    done: "boolean",
    n: "integer",
  }),
  snapshots: true,
};

/** Snapshots need the database; they are tested end to end (tests/snapshot_test.ts). */
const noSnapshots = {
  read: () => Promise.reject(new Error("no database in these tests")),
};

/** What the listener does for its tables: their entries on the bus's catalog topic. */
async function publishCatalog(bus: Bus, ...tables: TableInfo[]): Promise<void> {
  const topic = catalogTopic("synchub");
  await bus.ensureTopic(topic, { compacted: true });
  await bus.publish(
    tables.map((t) => ({ topic, key: catalogKey(t), value: JSON.stringify(tableRecord(t)) })),
  );
}

interface Harness {
  bus: Bus;
  gateway: Gateway;
  registry: Registry;
  url: string;
  token(buckets: string[], ttl?: number): Promise<string>;
  publish(...envelopes: Envelope[]): Promise<void>;
  close(): Promise<void>;
}

async function harness(
  limits: Partial<GatewayLimits> = {},
  bus: Bus = new MemoryBus({ retentionMs: 60_000, maxBytes: 1 << 26 }),
): Promise<Harness> {
  const registry = new Registry("gateway");
  await publishCatalog(bus, todos);
  const gateway = createGateway({
    bus,
    topicPrefix: "synchub",
    policy,
    snapshots: noSnapshots,
    verifyToken: createTokenVerifier(SECRET),
    limits: { maxFrameBytes: 4096, maxSubscriptions: 5, maxBufferedBytes: 1 << 22, ...limits },
    log: silentLogger,
    registry,
  });
  await gateway.started;
  const server = await gateway.listen({ hostname: "127.0.0.1", port: 0 });
  return {
    bus,
    gateway,
    registry,
    url: `ws://127.0.0.1:${server.addr.port}/v1/ws`,
    token: (buckets, ttl = 3600) => signToken(SECRET, { sub: "u", buckets }, ttl),
    publish: (...envelopes) => bus.publish(envelopes.map((e) => messageFor("synchub", e))),
    close: async () => {
      await gateway.stop();
      await server.shutdown(1000);
      await bus.close();
    },
  };
}

let seq = 0;
function change(
  bucket: string | null,
  over: Partial<Envelope> = {},
  row: Record<string, unknown> = {},
): Envelope {
  const id = `r${++seq}`;
  const after = { id, bucket, title: `t${seq}`, done: false, n: seq, ...row } as Envelope["after"];
  return sampleEnvelope({ id: `pg:${seq}`, key: { id }, bucket, after, ...over });
}

Deno.test("the upgrade is refused with 401 without a valid token", opts, async () => {
  const h = await harness();
  try {
    const http = h.url.replace(/^ws/, "http");
    const noToken = await fetch(http, { headers: { upgrade: "websocket" } });
    assert.equal(noToken.status, 401);
    assert.equal((await noToken.json()).error.code, "unauthorized");
    const bad = await fetch(`${http}?token=nonsense`);
    assert.equal(bad.status, 401);
    await bad.body?.cancel();
    const expired = await fetch(`${http}?token=${await h.token(["a"], -5)}`);
    assert.equal(expired.status, 401);
    assert.match((await expired.json()).error.message, /expired/);
    const header = await fetch(http, {
      headers: { authorization: `Bearer ${await h.token(["a"])}` },
    });
    assert.equal(
      header.status,
      400,
      "a valid token without an upgrade is a bad request, not a 401",
    );
    await header.body?.cancel();
    await assert.rejects(TestClient.connect(h.url));
  } finally {
    await h.close();
  }
});

Deno.test("a change reaches the subscribers of its bucket and no one else", opts, async () => {
  const h = await harness();
  const a = await TestClient.connect(h.url, await h.token(["a"]));
  const b = await TestClient.connect(h.url, await h.token(["b"]));
  const all = await TestClient.connect(h.url, await h.token(["*"]));
  try {
    const sub = await a.subscribe("public.todos");
    assert.equal(sub.type, "subscribed");
    assert.match(sub.cursor, /^c1\./);
    await b.subscribe("todos");
    await all.subscribe("public.todos");
    const forA = change("a");
    const del = change("a", { op: "d", before: forA.after, after: null });
    const shared = change(null);
    await h.publish(forA, change("b"), del, shared);

    const got = await a.changes(2);
    assert.deepEqual(got.map((f) => f.change.id), [forA.id, del.id]);
    assert.deepEqual(got[0]!.change, forA, "the envelope arrives as published");
    assert.equal(got[0]!.sub, sub.sub);
    assert.ok(got.every((f) => typeof f.cursor === "string"));
    const gotB = await b.changes(1);
    assert.deepEqual(gotB.map((f) => f.change.bucket), ["b"], "b sees its row only");
    // A row without a bucket is no one's: only the '*' token gets it.
    assert.deepEqual((await all.changes(4)).map((f) => f.change.id).at(-1), shared.id);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(a.pendingChanges().length + b.pendingChanges().length, 0, "nothing else arrived");
  } finally {
    await Promise.all([a.close(), b.close(), all.close()]);
    await h.close();
  }
});

Deno.test("unsubscribe stops delivery; ping answers pong; refs are echoed", opts, async () => {
  const h = await harness();
  const c = await TestClient.connect(h.url, await h.token(["a"]));
  try {
    const { sub } = await c.subscribe("public.todos");
    c.send({ type: "ping", ref: "p1" });
    assert.deepEqual(await c.reply("p1"), { type: "pong", ref: "p1" });
    c.send({ type: "unsubscribe", ref: "u1", sub });
    assert.deepEqual(await c.reply("u1"), { type: "unsubscribed", ref: "u1", sub });
    await h.publish(change("a"));
    c.send({ type: "unsubscribe", ref: "u2", sub });
    assert.equal((await c.reply("u2")).code, "not_found");
    assert.equal(c.pendingChanges().length, 0);
  } finally {
    await c.close();
    await h.close();
  }
});

Deno.test(
  "a message far over the limit is refused from its header: an error reply, then close 1009",
  opts,
  async () => {
    const h = await harness({ maxFrameBytes: 1024 }); // the server takes in at most 64 KiB
    const raw = await Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(h.url).port) });
    try {
      const token = await h.token(["a"]);
      await raw.write(new TextEncoder().encode(
        `GET /v1/ws?token=${token} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n` +
          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
          "Sec-WebSocket-Version: 13\r\n\r\n",
      ));
      // A text frame announcing 1 GiB, of which only 10 bytes follow: nothing is buffered.
      const header = new Uint8Array([0x81, 0xff, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3, 4]);
      await raw.write(new Uint8Array([...header, ...new Uint8Array(10)]));
      const bytes: number[] = [];
      const buf = new Uint8Array(4096);
      for (;;) {
        const n = await raw.read(buf);
        if (n === null) break;
        bytes.push(...buf.subarray(0, n));
      }
      const text = new TextDecoder().decode(new Uint8Array(bytes));
      assert.match(text, /^HTTP\/1.1 101/);
      assert.match(text, /"type":"error".*"code":"bad_request"/);
      // The last frame closes with 1009: opcode 0x88, a length, then the code 0x03f1.
      const close = bytes.lastIndexOf(0x88);
      assert.ok(close > 0, "a close frame");
      assert.deepEqual(bytes.slice(close + 2, close + 4), [0x03, 0xf1], "close code 1009");
    } finally {
      raw.close();
      await h.close();
    }
  },
);

Deno.test("bad frames get an error reply and the connection stays open", opts, async () => {
  const h = await harness({ maxFrameBytes: 1024 });
  const c = await TestClient.connect(h.url, await h.token(["a"]));
  try {
    const cases: [unknown, string, RegExp][] = [
      ["{not json", "bad_request", /malformed JSON/],
      [JSON.stringify({ type: "dance", ref: "1" }), "bad_request", /type/],
      [JSON.stringify({ type: "subscribe", ref: "2" }), "bad_request", /table/],
      [JSON.stringify({ type: "subscribe", ref: "3", table: "nope" }), "not_found", /nope/],
      [
        JSON.stringify({ type: "subscribe", ref: "4", table: "todos", where: { color: "red" } }),
        "bad_request",
        /color/,
      ],
      [
        JSON.stringify({ type: "subscribe", ref: "5", table: "todos", since: "garbage" }),
        "bad_request",
        /cursor/,
      ],
      [
        JSON.stringify({ type: "ping", ref: "6", pad: "x".repeat(2000) }),
        "bad_request",
        /exceeds 1024 bytes/,
      ],
      [new Uint8Array([1, 2, 3]), "bad_request", /binary/],
      ["[]", "bad_request", /./],
      ["null", "bad_request", /./],
    ];
    for (const [frame, code, message] of cases) {
      c.send(frame);
      const reply = await c.next(
        (f) => f.type === "error",
        `an error for ${String(frame).slice(0, 40)}`,
      );
      assert.equal(reply.code, code, String(frame).slice(0, 60));
      assert.match(reply.message, message);
    }
    const ref = await c.subscribe("todos", { where: { n: { gt: "x" } } });
    assert.equal(ref.type, "error");
    c.send({ type: "ping", ref: "alive" });
    assert.equal((await c.reply("alive")).type, "pong");
    assert.equal(c.closed, undefined);
  } finally {
    await c.close();
    await h.close();
  }
});

Deno.test("filters select rows; deletes are matched on their old row", opts, async () => {
  const h = await harness();
  const c = await TestClient.connect(h.url, await h.token(["a"]));
  try {
    await c.subscribe("public.todos", { where: { done: true, n: { gte: 10 } } });
    const match = change("a", {}, { done: true, n: 10 });
    const low = change("a", {}, { done: true, n: 3 });
    const open = change("a", {}, { done: false, n: 50 });
    const del = change("a", { op: "d", after: null, before: { ...match.after! } });
    await h.publish(low, match, open, del);
    const got = await c.changes(2);
    assert.deepEqual(got.map((f) => f.change.id), [match.id, del.id]);
  } finally {
    await c.close();
    await h.close();
  }
});

Deno.test("a client resuming with its last cursor gets exactly what it missed", opts, async () => {
  const h = await harness();
  const token = await h.token(["a"]);
  const first = await TestClient.connect(h.url, token);
  const firstBatch = [change("a"), change("b"), change("a")];
  await first.subscribe("public.todos");
  await h.publish(...firstBatch);
  const seen = await first.changes(2);
  const cursor = seen.at(-1)!.cursor;
  await first.close();

  const missed = [change("a"), change("b"), change("a"), change("a")];
  await h.publish(...missed);
  const again = await TestClient.connect(h.url, token);
  try {
    const sub = await again.subscribe("public.todos", { since: cursor });
    assert.equal(sub.type, "subscribed");
    assert.equal(sub.cursor, cursor, "the subscription starts where the cursor points");
    const live = change("a");
    await h.publish(live);
    const got = await again.changes(4);
    assert.deepEqual(
      got.map((f) => f.change.id),
      [...missed.filter((e) => e.bucket === "a"), live].map((e) => e.id),
    );
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(again.pendingChanges().length, 0, "no duplicates");

    // Resuming from the middle again replays exactly the rest.
    const third = await TestClient.connect(h.url, token);
    await third.subscribe("public.todos", { since: got[1]!.cursor });
    assert.deepEqual((await third.changes(2)).map((f) => f.change.id), [
      got[2]!.change.id,
      got[3]!.change.id,
    ]);
    await third.close();
  } finally {
    await again.close();
    await h.close();
  }
});

Deno.test(
  "changes published while a client catches up are neither lost nor doubled",
  opts,
  async () => {
    const h = await harness();
    const token = await h.token(["a"]);
    const c = await TestClient.connect(h.url, token);
    try {
      const { cursor } = await c.subscribe("public.todos");
      await c.close();
      const before = Array.from({ length: 3000 }, () => change("a"));
      await h.publish(...before);
      const again = await TestClient.connect(h.url, token);
      again.send({ type: "subscribe", ref: "r", table: "public.todos", since: cursor });
      // Publish while the catch-up is being read and sent.
      const during = Array.from({ length: 300 }, () => change("a"));
      for (let i = 0; i < during.length; i += 10) {
        await h.publish(...during.slice(i, i + 10));
        await new Promise((r) => setTimeout(r, 0));
      }
      const got = await again.changes(before.length + during.length);
      assert.deepEqual(got.map((f) => f.change.id), [...before, ...during].map((e) => e.id));
      await again.close();
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "a cursor older than retention, or from another bus, is cursor_expired",
  opts,
  async () => {
    const h = await harness({}, new MemoryBus({ retentionMs: 60_000, maxBytes: 20_000 }));
    const token = await h.token(["a"]);
    const c = await TestClient.connect(h.url, token);
    try {
      const { cursor } = await c.subscribe("public.todos");
      for (let i = 0; i < 100; i++) await h.publish(change("a"));
      const expired = await c.subscribe("public.todos", { since: cursor });
      assert.deepEqual([expired.type, expired.code], ["error", "cursor_expired"]);
      const foreign = encodeCursor({
        epoch: "mem-other",
        topic: "synchub.pg.public.todos",
        offsets: [0],
      });
      const other = await c.subscribe("public.todos", { since: foreign });
      assert.deepEqual([other.type, other.code], ["error", "cursor_expired"]);
      assert.equal(
        (await c.subscribe("public.todos")).type,
        "subscribed",
        "the connection is still usable",
      );
    } finally {
      await c.close();
      await h.close();
    }
  },
);

Deno.test("subscriptions per connection are limited", opts, async () => {
  const h = await harness({ maxSubscriptions: 2 });
  const c = await TestClient.connect(h.url, await h.token(["a"]));
  try {
    await c.subscribe("todos");
    await c.subscribe("todos", { where: { done: true } });
    const third = await c.subscribe("todos");
    assert.equal(third.code, "bad_request");
    assert.match(third.message, /at most 2/);
  } finally {
    await c.close();
    await h.close();
  }
});

Deno.test("a connection closes when its token expires", opts, async () => {
  const h = await harness();
  const c = await TestClient.connect(h.url, await h.token(["a"], 1));
  try {
    await waitFor(() => c.closed, "the token-expiry close");
    assert.equal(c.closed!.code, 4001);
  } finally {
    await h.close();
  }
});

/** A raw WebSocket client that sends one message and then never reads again. */
async function nonReader(h: Harness, token: string, message: unknown): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(h.url).port) });
  await conn.write(new TextEncoder().encode(
    `GET /v1/ws?token=${token} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${btoa("0123456789abcdef")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  ));
  const buf = new Uint8Array(4096);
  const n = await conn.read(buf);
  assert.match(new TextDecoder().decode(buf.subarray(0, n ?? 0)), /101 Switching Protocols/);
  await conn.write(maskedTextFrame(JSON.stringify(message)));
  return conn;
}

Deno.test(
  "a live consumer that does not read is closed with 1013, never silently skipped",
  opts,
  async () => {
    const h = await harness({ maxBufferedBytes: 64 * 1024 });
    const conn = await nonReader(h, await h.token(["a"]), {
      type: "subscribe",
      ref: "1",
      table: "public.todos",
    });
    try {
      await waitFor(() => h.gateway.hub!.count() === 1, "the subscription");
      const slow = h.registry.counter("synchub_gateway_slow_consumer_closes_total", "");
      const big = "x".repeat(64 * 1024);
      for (let i = 0; i < 2000 && slow.get() === 0; i++) {
        await h.publish(change("a", {}, { title: big }));
        await new Promise((r) => setTimeout(r, 0));
      }
      assert.equal(slow.get(), 1, "the slow consumer was closed");
      assert.equal(h.gateway.hub!.count(), 0, "its subscription is gone");
    } finally {
      conn.close();
      await h.close();
    }
  },
);

Deno.test("a consumer that does not read its catch-up is closed with 1013 too", opts, async () => {
  const h = await harness({ maxBufferedBytes: 64 * 1024, drainTimeoutMs: 500 });
  const token = await h.token(["a"]);
  const first = await TestClient.connect(h.url, token);
  const { cursor } = await first.subscribe("public.todos");
  await first.close();
  const big = "x".repeat(16 * 1024);
  for (let i = 0; i < 1000; i++) await h.publish(change("a", {}, { title: big }));
  const conn = await nonReader(h, token, {
    type: "subscribe",
    ref: "1",
    table: "public.todos",
    since: cursor,
  });
  try {
    const slow = h.registry.counter("synchub_gateway_slow_consumer_closes_total", "");
    // Live changes keep coming while it does not read: they must not pile up without bound.
    for (let i = 0; i < 400 && slow.get() === 0; i++) {
      await h.publish(change("a", {}, { title: big }));
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor(() => slow.get() === 1, "the slow catch-up consumer to be closed");
    assert.equal(h.gateway.hub!.count(), 0);
  } finally {
    conn.close();
    await h.close();
  }
});

function maskedTextFrame(text: string): Uint8Array {
  const payload = new TextEncoder().encode(text);
  const mask = new Uint8Array([1, 2, 3, 4]);
  const header = payload.length < 126
    ? [0x81, 0x80 | payload.length]
    : [0x81, 0x80 | 126, payload.length >> 8, payload.length & 255];
  const out = new Uint8Array(header.length + 4 + payload.length);
  out.set(header);
  out.set(mask, header.length);
  payload.forEach((b, i) => out[header.length + 4 + i] = b ^ mask[i % 4]!);
  return out;
}

Deno.test(
  "the gateway opens no database: tables come from the bus's catalog, snapshots from the listener",
  opts,
  async () => {
    const registry = new Registry("gateway");
    const bus = new MemoryBus({ retentionMs: 60_000, maxBytes: 1 << 20 });
    const gateway = createGateway({
      bus,
      topicPrefix: "synchub",
      policy,
      // A listener that is down: its port answers nothing.
      snapshots: new HttpSnapshotReader("http://127.0.0.1:9", () => Promise.resolve("t")),
      verifyToken: createTokenVerifier(SECRET),
      limits: { maxFrameBytes: 4096, maxSubscriptions: 5, maxBufferedBytes: 1 << 22 },
      log: silentLogger,
      registry,
    });
    await gateway.started;
    const server = await gateway.listen({ hostname: "127.0.0.1", port: 0 });
    const token = await signToken(SECRET, { sub: "u", buckets: ["a"] });
    const c = await TestClient.connect(`ws://127.0.0.1:${server.addr.port}/v1/ws`, token);
    try {
      const unknown = await c.subscribe("public.todos");
      assert.deepEqual([unknown.type, unknown.code], ["error", "not_found"]);
      // The listener publishes the table after the gateway started: it is served at once.
      await publishCatalog(bus, todos);
      const sub = await c.subscribe("public.todos");
      assert.equal(sub.type, "subscribed");
      // A snapshot needs the listener, which is down: an error reply, and the connection stays.
      c.send({ type: "subscribe", ref: "snap", table: "public.todos", snapshot: true });
      assert.equal((await c.reply("snap")).type, "subscribed");
      const snap = await c.reply("snap");
      assert.deepEqual([snap.type, snap.code], ["error", "internal"]);
      assert.match(snap.message, /unreachable|could not be read/);
      // A table the listener removed (a tombstone) is no longer served.
      await bus.publish([{ topic: catalogTopic("synchub"), key: catalogKey(todos), value: null }]);
      const gone = await c.subscribe("public.todos");
      assert.deepEqual([gone.type, gone.code], ["error", "not_found"]);
      const ready = await fetch(`http://127.0.0.1:${server.addr.port}/ready`);
      assert.equal(ready.status, 200);
      c.send({ type: "ping", ref: "p" });
      assert.equal((await c.reply("p")).type, "pong");
    } finally {
      await c.close();
      await gateway.stop();
      await server.shutdown(1000);
    }
  },
);

Deno.test(
  "messages beyond the connection's rate get rate_limited; the connection stays",
  opts,
  async () => {
    const h = await harness({ maxMessagesPerSecond: 10 });
    const c = await TestClient.connect(h.url, await h.token(["a"]));
    try {
      for (let i = 0; i < 60; i++) c.send({ type: "ping", ref: `p${i}` });
      const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => c.reply(`p${i}`)));
      const limited = replies.filter((r) => r.type === "error" && r.code === "rate_limited").length;
      assert.ok(limited >= 30, `only ${limited} of 60 refused`);
      assert.ok(replies.filter((r) => r.type === "pong").length >= 20, "the burst is allowed");
      await new Promise((r) => setTimeout(r, 1200));
      c.send({ type: "ping", ref: "later" });
      assert.equal((await c.reply("later")).type, "pong", "allowed again once the rate allows");
      assert.equal(c.closed, undefined);
    } finally {
      await c.close();
      await h.close();
    }
  },
);

Deno.test("heartbeat: a connection that answers no pings is closed", opts, async () => {
  const h = await harness({ idleTimeoutSeconds: 1 });
  const token = await h.token(["a"]);
  const conn = await nonReader(h, token, { type: "subscribe", ref: "1", table: "public.todos" });
  try {
    await waitFor(() => h.gateway.hub!.count() === 1, "the subscription");
    await waitFor(() => h.gateway.hub!.count() === 0, "the silent connection to be closed", 15_000);
    const live = await TestClient.connect(h.url, token);
    await live.subscribe("public.todos");
    await new Promise((r) => setTimeout(r, 2500)); // an answering client outlives the timeout
    assert.equal(live.closed, undefined);
    await live.close();
  } finally {
    conn.close();
    await h.close();
  }
});

Deno.test(
  "a client closed with 1013 resumes from its last cursor and misses nothing",
  opts,
  async () => {
    const h = await harness({ maxBufferedBytes: 64 * 1024, drainTimeoutMs: 500 });
    const token = await h.token(["a"]);
    let last: string | undefined;
    const seen: string[] = [];
    const raw = await RawWsClient.connect(`${h.url}?token=${token}`, (payload) => {
      const f = JSON.parse(new TextDecoder().decode(payload));
      if (f.type === "change") {
        seen.push(f.change.id);
        last = f.cursor;
      }
    });
    try {
      await raw.sendText(JSON.stringify({ type: "subscribe", ref: "1", table: "public.todos" }));
      await waitFor(() => h.gateway.hub!.count() === 1, "the subscription");
      const published = [];
      for (let i = 0; i < 5; i++) published.push(change("a"));
      await h.publish(...published);
      await waitFor(() => seen.length === 5, "the first changes");
      raw.pause(); // from here on the client does not read
      const big = "x".repeat(32 * 1024);
      const slow = h.registry.counter("synchub_gateway_slow_consumer_closes_total", "");
      for (let i = 0; i < 400 && slow.get() === 0; i++) {
        const e = change("a", {}, { title: big });
        published.push(e);
        await h.publish(e);
        await new Promise((r) => setTimeout(r, 0));
      }
      assert.equal(slow.get(), 1, "closed as too slow");
      raw.resume();
      await waitFor(() => raw.closed, "the 1013 close frame");
      assert.equal(raw.closed!.code, 1013);

      const again = await TestClient.connect(h.url, token);
      try {
        await again.subscribe("public.todos", { since: last });
        const rest = published.slice(seen.length).map((e) => e.id);
        const got = await again.changes(rest.length);
        assert.deepEqual(
          got.map((f) => f.change.id),
          rest,
          "exactly what came after the last cursor received",
        );
      } finally {
        await again.close();
      }
    } finally {
      raw.close();
      await h.close();
    }
  },
);

Deno.test("many subscriptions on one connection each get their own rows", opts, async () => {
  const h = await harness();
  const c = await TestClient.connect(h.url, await h.token(["a"]));
  try {
    const open = await c.subscribe("public.todos", { where: { done: false } });
    const closed = await c.subscribe("public.todos", { where: { done: true } });
    const everything = await c.subscribe("public.todos");
    const a = change("a", {}, { done: false }), b = change("a", {}, { done: true });
    await h.publish(a, b);
    const got = await c.changes(4);
    const by = (sub: string) => got.filter((f) => f.sub === sub).map((f) => f.change.id);
    assert.deepEqual(by(open.sub), [a.id]);
    assert.deepEqual(by(closed.sub), [b.id]);
    assert.deepEqual(by(everything.sub), [a.id, b.id]);
  } finally {
    await c.close();
    await h.close();
  }
});

Deno.test(
  "writes during subscribe: everything after the subscribed cursor arrives, in order",
  opts,
  async () => {
    const h = await harness();
    const token = await h.token(["a"]);
    let publishing = true;
    const published: Envelope[] = [];
    const publisher = (async () => {
      while (publishing) {
        const e = change("a");
        published.push(e);
        await h.publish(e);
        await new Promise((r) => setTimeout(r, 0));
      }
    })();
    const clients: TestClient[] = [];
    try {
      const subs = [];
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 20));
        const c = await TestClient.connect(h.url, token);
        clients.push(c);
        subs.push(await c.subscribe("public.todos"));
      }
      await new Promise((r) => setTimeout(r, 100));
      publishing = false;
      await publisher;
      for (const [i, c] of clients.entries()) {
        const from: number = decodeCursor(String(subs[i]!.cursor)).offsets[0] ?? 0;
        const expected: string[] = published.slice(from).map((e) => e.id);
        const got = await c.changes(expected.length);
        assert.deepEqual(got.map((f) => f.change.id), expected, `client ${i}: a gap or a reorder`);
      }
    } finally {
      publishing = false;
      await publisher;
      for (const c of clients) await c.close();
      await h.close();
    }
  },
);

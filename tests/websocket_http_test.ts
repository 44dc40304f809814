/**
 * lib/websocket on real sockets, HTTP side: requests handed to the handler, limits and
 * deadlines on what clients send, and shutdown. Every test runs on both transports.
 */
import assert from "node:assert/strict";
import { encodeTextFrame } from "../lib/websocket/mod.ts";
import { RawClient } from "./support/raw_ws.ts";
import { waitFor } from "./support/wait.ts";
import { closed, open, start, test } from "./support/ws_server.ts";

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

    // Whole, in one write, but past the limit all the same.
    const whole = await RawClient.connect(h.port, false);
    await whole.writeText(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(5000)}\r\n\r\n`);
    assert.match(await whole.readToEnd(), /^HTTP\/1\.1 431 /);
    whole.close();
  } finally {
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

test("request bodies: a large one arrives whole, past the limit 413, 100-continue answered", async (transport) => {
  const h = await start(transport, { maxRequestBodyBytes: 300_000 });
  const base = `http://127.0.0.1:${h.port}`;
  try {
    const echo = await fetch(`${base}/echo`, { method: "POST", body: "b".repeat(250_000) });
    assert.equal((await echo.text()).length, 250_000);

    const raw = await RawClient.connect(h.port, false);
    await raw.writeText("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 300001\r\n\r\n");
    assert.match(await raw.readToEnd(), /^HTTP\/1\.1 413 [^]*exceeds 300000 bytes/);
    raw.close();

    const cont = await RawClient.connect(h.port, false);
    await cont.writeText(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    assert.match(await cont.readHead(), /^HTTP\/1\.1 100 Continue/);
    await cont.writeText("hello");
    const answer = await cont.readToEnd();
    assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(answer.endsWith("\r\n\r\nhello"), answer);
    cont.close();

    const chunked = await RawClient.connect(h.port, false);
    await chunked.writeText(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    assert.match(await chunked.readToEnd(), /^HTTP\/1\.1 501 /);
    chunked.close();
  } finally {
    await h.server.shutdown(2000);
  }
});

test("connections past maxConnections are closed at once", async (transport) => {
  const h = await start(transport, { maxConnections: 2 });
  try {
    const a = await open(h.url);
    const b = await open(h.url);
    const extra = await RawClient.connect(h.port, false);
    assert.equal(await extra.readToEnd(), "");
    extra.close();
    assert.equal(h.server.connections, 2);
    for (const ws of [a, b]) {
      const end = closed(ws);
      ws.close();
      await end;
    }
    await waitFor(() => h.server.connections === 0, "both to close");
    const again = await open(h.url); // room again
    const end = closed(again);
    again.close();
    await end;
  } finally {
    await h.server.shutdown(2000);
  }
});

test("a port in use is reported as AddrInUse, and nothing is left running", async (transport) => {
  const h = await start(transport);
  try {
    // In a process of its own: one that exits by itself has no timer or socket left behind.
    const mod = new URL("../lib/websocket/mod.ts", import.meta.url).href;
    const code = `import { startWsServer } from "${mod}";
      try { await startWsServer(() => new Response(""), { port: ${h.port}, transport: "${transport}" }); }
      catch (e) { console.log(e instanceof Deno.errors.AddrInUse ? "in use" : String(e)); }`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000); // only so a hang cannot last
    const out = await child.output();
    clearTimeout(timer);
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "in use");
    assert.equal(out.code, 0, "the process did not exit by itself");
  } finally {
    await h.server.shutdown(2000);
  }
});

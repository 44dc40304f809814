import assert from "node:assert/strict";
import type { ByteSink } from "./outbox.ts";
import { writeResponse } from "./http_response.ts";

async function written(res: Response, method = "GET", version: "1.0" | "1.1" = "1.1") {
  const chunks: Uint8Array[] = [];
  const sink: ByteSink = { write: (p, done) => (chunks.push(p.slice()), queueMicrotask(done)) };
  await writeResponse(sink, res, { method, version });
  const text = new TextDecoder().decode(
    new Uint8Array(chunks.flatMap((c) => [...c])),
  );
  const end = text.indexOf("\r\n\r\n");
  return { head: text.slice(0, end), body: text.slice(end + 4), writes: chunks.length };
}

function stream(parts: number, size: number): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(c) {
      if (i === parts) return c.close();
      c.enqueue(new TextEncoder().encode(String.fromCharCode(97 + (i++ % 26)).repeat(size)));
    },
  });
}

function unchunk(body: string): string {
  let out = "";
  for (;;) {
    const line = body.indexOf("\r\n");
    const size = parseInt(body.slice(0, line), 16);
    if (size === 0) return out;
    out += body.slice(line + 2, line + 2 + size);
    assert.equal(body.slice(line + 2 + size, line + 4 + size), "\r\n");
    body = body.slice(line + 4 + size);
  }
}

Deno.test("a small body goes in one write with its Content-Length and connection: close", async () => {
  const r = await written(Response.json({ ok: true }, { status: 201 }));
  assert.match(r.head, /^HTTP\/1\.1 201 Created\r\n/);
  assert.match(r.head, /\r\ncontent-type: application\/json\r\n/);
  assert.match(r.head, /\r\nconnection: close\r\n/);
  assert.match(r.head, /\r\ncontent-length: 11$/);
  assert.equal(r.body, '{"ok":true}');
  assert.equal(r.writes, 1);
});

Deno.test("a long streamed body is sent chunked, whole", async () => {
  const r = await written(new Response(stream(100, 1000)));
  assert.match(r.head, /\r\ntransfer-encoding: chunked/);
  assert.doesNotMatch(r.head, /content-length/);
  const body = unchunk(r.body);
  assert.equal(body.length, 100_000);
  assert.equal(body.slice(99_000, 99_001), String.fromCharCode(97 + (99 % 26)));
});

Deno.test("to an HTTP/1.0 client a long body is delimited by the close", async () => {
  const r = await written(new Response(stream(100, 1000)), "GET", "1.0");
  assert.doesNotMatch(r.head, /transfer-encoding|content-length/);
  assert.equal(r.body.length, 100_000);
});

Deno.test("HEAD, 204 and 304 carry no body; the handler's framing headers are replaced", async () => {
  const head = await written(
    new Response("abc", { headers: { "content-length": "3", connection: "keep-alive" } }),
    "HEAD",
  );
  assert.match(head.head, /content-length: 3/);
  assert.doesNotMatch(head.head, /keep-alive/);
  assert.equal(head.body, "");
  const none = await written(new Response(null, { status: 204 }));
  assert.doesNotMatch(none.head, /content-length/);
  assert.equal(none.body, "");
  const empty = await written(new Response(null, { status: 200 }));
  assert.match(empty.head, /content-length: 0/);
  const odd = await written(new Response("x", { status: 299 }));
  assert.match(odd.head, /^HTTP\/1\.1 299 \r\n/);
});

Deno.test("a body stream that fails mid-way fails the write (the client sees a cut answer)", async () => {
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (i++ < 100) c.enqueue(new Uint8Array(1000));
      else c.error(new Error("source failed"));
    },
  });
  const sink: ByteSink = { write: (_, done) => queueMicrotask(done) };
  await assert.rejects(
    writeResponse(sink, new Response(body), { method: "GET", version: "1.1" }),
    /source failed/,
  );
});

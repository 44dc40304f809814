import assert from "node:assert/strict";
import { bodyLength, findHeadEnd, HttpError, parseRequestHead, requestUrl } from "./http_head.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const head = (s: string, max = 100) => parseRequestHead(bytes(s), max);

function refuses(text: string, status: number, pattern: RegExp, max = 100) {
  assert.throws(() => head(text, max), (err) => {
    assert.ok(err instanceof HttpError);
    assert.equal(err.status, status);
    assert.match(err.message, pattern);
    return true;
  });
}

Deno.test("findHeadEnd finds the blank line, also when scanning resumes mid-way", () => {
  const buf = bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\nrest");
  assert.equal(findHeadEnd(buf), buf.length - 4);
  assert.equal(findHeadEnd(buf, 20), buf.length - 4);
  assert.equal(findHeadEnd(bytes("GET / HTTP/1.1\r\nHost: a\r\n\r")), -1);
  assert.equal(findHeadEnd(new Uint8Array(0)), -1);
});

Deno.test("parseRequestHead reads the request line and header fields", () => {
  const h = head(
    "GET /v1/ws?token=abc HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade:  websocket \r\n" +
      "X-Many: 1\r\nx-many: 2\r\n\r\n",
  );
  assert.equal(h.method, "GET");
  assert.equal(h.target, "/v1/ws?token=abc");
  assert.equal(h.version, "1.1");
  assert.equal(h.headers.get("upgrade"), "websocket");
  assert.equal(h.headers.get("x-many"), "1, 2");
  assert.equal(requestUrl(h, "fallback"), "http://127.0.0.1:8080/v1/ws?token=abc");
});

Deno.test("header values are bytes: non-ASCII arrives as ISO-8859-1", () => {
  const raw = new Uint8Array([...bytes("GET / HTTP/1.1\r\nHost: a\r\nX: "), 0xe9, 13, 10, 13, 10]);
  assert.equal(parseRequestHead(raw, 10).headers.get("x"), "\u00e9");
});

Deno.test("HTTP/1.0 needs no Host; the listener's address stands in", () => {
  const h = head("GET /health HTTP/1.0\r\n\r\n");
  assert.equal(h.version, "1.0");
  assert.equal(requestUrl(h, "0.0.0.0:9"), "http://0.0.0.0:9/health");
});

Deno.test("malformed heads are refused with 400, 431 or 505", () => {
  refuses("GET /\r\nHost: a\r\n\r\n", 400, /request line/);
  refuses("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, /request line/);
  refuses("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, /method/);
  refuses("GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", 400, /target/);
  refuses("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, /not supported/);
  refuses("GET / HTTX/1.1\r\nHost: a\r\n\r\n", 400, /version/);
  refuses("GET / HTTP/1.1\r\n\r\n", 400, /Host/);
  refuses("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  folded\r\n\r\n", 400, /folding/);
  refuses("GET / HTTP/1.1\r\nHost: a\r\nno colon\r\n\r\n", 400, /header field/);
  refuses("GET / HTTP/1.1\r\nHost: a\r\nBad Name: 1\r\n\r\n", 400, /header field/);
  refuses("GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400, /control character/);
  refuses("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", 431, /more than 2/, 2);
});

Deno.test("requestUrl refuses hosts and targets that are not URLs", () => {
  assert.throws(() => requestUrl(head("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), "x"), HttpError);
  assert.throws(() => requestUrl(head("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), "x"), HttpError);
  assert.equal(
    requestUrl(head("GET http://h:1/p HTTP/1.1\r\nHost: a\r\n\r\n"), "x"),
    "http://h:1/p",
  );
});

Deno.test("bodyLength reads Content-Length and refuses what it cannot frame", () => {
  assert.equal(bodyLength(head("POST / HTTP/1.1\r\nHost: a\r\n\r\n")), 0);
  assert.equal(bodyLength(head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n")), 12);
  assert.equal(
    bodyLength(
      head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n"),
    ),
    3,
  );
  for (const bad of ["-1", "1e3", "3, 4", "", "99999999999999999"]) {
    assert.throws(
      () => bodyLength(head(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${bad}\r\n\r\n`)),
      (e) => e instanceof HttpError && e.status === 400,
      bad,
    );
  }
  assert.throws(
    () => bodyLength(head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")),
    (e) => e instanceof HttpError && e.status === 501,
  );
});

import assert from "node:assert/strict";
import {
  acceptKey,
  checkUpgrade,
  isUpgradeRequest,
  switchingProtocols,
  UpgradeError,
} from "./handshake.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const upgrade = (headers: Record<string, string>, method = "GET") =>
  new Request("http://h/v1/ws", {
    method,
    headers: {
      upgrade: "websocket",
      connection: "keep-alive, Upgrade",
      "sec-websocket-version": "13",
      "sec-websocket-key": KEY,
      ...headers,
    },
  });

Deno.test("acceptKey matches the example of RFC 6455 §1.3", async () => {
  assert.equal(await acceptKey(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

Deno.test("checkUpgrade accepts a valid request and returns its key", () => {
  assert.equal(checkUpgrade(upgrade({})), KEY);
  assert.equal(checkUpgrade(upgrade({ upgrade: "WebSocket", connection: "UPGRADE" })), KEY);
  assert.equal(isUpgradeRequest(upgrade({})), true);
  assert.equal(isUpgradeRequest(new Request("http://h/")), false);
});

Deno.test("checkUpgrade refuses what RFC 6455 §4.2.1 requires, 426 for another version", () => {
  const cases: [Request, number, RegExp][] = [
    [upgrade({}, "POST"), 400, /GET/],
    [upgrade({ upgrade: "h2c" }), 400, /Upgrade: websocket/],
    [upgrade({ connection: "keep-alive" }), 400, /Connection: Upgrade/],
    [upgrade({ "sec-websocket-version": "8" }), 426, /13/],
    [upgrade({ "sec-websocket-key": "short" }), 400, /16 bytes/],
    [upgrade({ "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ" }), 400, /16 bytes/],
  ];
  for (const [req, status, pattern] of cases) {
    assert.throws(() => checkUpgrade(req), (err) => {
      assert.ok(err instanceof UpgradeError);
      assert.equal(err.status, status);
      assert.match(err.message, pattern);
      return true;
    });
  }
});

Deno.test("a 426 answer names the supported version", () => {
  const res = new UpgradeError(426, "Sec-WebSocket-Version must be 13").response();
  assert.equal(res.status, 426);
  assert.equal(res.headers.get("sec-websocket-version"), "13");
});

Deno.test("switchingProtocols writes the accept key and the handler's own headers only", () => {
  const extra = new Headers({ "x-request-id": "7", "content-length": "5", connection: "close" });
  const text = new TextDecoder().decode(switchingProtocols("abc=", extra));
  assert.match(text, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.match(text, /\r\nsec-websocket-accept: abc=\r\n/);
  assert.match(text, /\r\nx-request-id: 7\r\n/);
  assert.doesNotMatch(text, /content-length|close/);
  assert.ok(text.endsWith("\r\n\r\n"));
});

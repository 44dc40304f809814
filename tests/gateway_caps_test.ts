/**
 * Connection caps (issue 14): open WebSockets per token holder (`sub`) and per client address are
 * bounded; the one over a cap is refused with 429 before the upgrade, and a closed connection
 * frees its place.
 */
import assert from "node:assert/strict";
import { signToken } from "../lib/jwt.ts";
import { JWT_SECRET, startStack } from "./support/stack.ts";
import { TestClient } from "./support/ws_client.ts";
import { waitFor } from "./support/wait.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** The gateway's answer to an upgrade request, as status and JSON body (no socket kept). */
async function upgradeStatus(wsUrl: string, token: string) {
  const url = new URL(wsUrl.replace(/^ws/, "http"));
  url.searchParams.set("token", token);
  const res = await fetch(url, {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": btoa("0123456789abcdef"),
      "sec-websocket-version": "13",
    },
  });
  const body = res.status === 101 ? undefined : await res.json();
  await res.body?.cancel().catch(() => {});
  return { status: res.status, body, retryAfter: res.headers.get("retry-after") };
}

Deno.test(
  "WebSocket caps: per token holder and per address, 429 beyond, freed on close",
  opts,
  async () => {
    const stack = await startStack({
      env: { WS_MAX_CONNECTIONS_PER_TOKEN: "2", WS_MAX_CONNECTIONS_PER_ADDRESS: "3" },
    });
    const clients: TestClient[] = [];
    try {
      const alice = await signToken(JWT_SECRET, { sub: "alice", buckets: ["a"] });
      const bob = await signToken(JWT_SECRET, { sub: "bob", buckets: ["b"] });
      const carol = await signToken(JWT_SECRET, { sub: "carol", buckets: ["c"] });
      clients.push(await TestClient.connect(stack.wsUrl, alice));
      clients.push(await TestClient.connect(stack.wsUrl, alice));
      // A third for alice: over the per-token cap.
      const overToken = await upgradeStatus(stack.wsUrl, alice);
      assert.equal(overToken.status, 429);
      assert.equal(overToken.body.error.code, "rate_limited");
      assert.match(overToken.body.error.message, /per token holder/);
      assert.ok(Number(overToken.retryAfter) > 0, "Retry-After");
      // Bob may still connect from this address: two of alice, one of bob = the address's 3.
      clients.push(await TestClient.connect(stack.wsUrl, bob));
      const overAddress = await upgradeStatus(stack.wsUrl, carol);
      assert.equal(overAddress.status, 429);
      assert.match(overAddress.body.error.message, /per address/);
      // Closing one of alice's frees a place for her (and for the address).
      await clients.shift()!.close();
      const again = await waitFor(async () => {
        try {
          return await TestClient.connect(stack.wsUrl, alice);
        } catch {
          return undefined;
        }
      }, "a place freed by the closed connection");
      clients.push(again);
      // The connections that were let in work.
      again.send({ type: "ping", ref: "p" });
      assert.equal((await again.reply("p")).type, "pong");
    } finally {
      for (const c of clients) c.ws.close();
      await stack.close();
    }
  },
);

import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { SyncError } from "./errors.ts";
import { createTokenVerifier, signToken, tokenFromRequest } from "./jwt.ts";

const secret = "s".repeat(32);
const verify = createTokenVerifier(secret);

async function rejects(token: string, message: RegExp) {
  await assert.rejects(verify(token), (e) => {
    assert.ok(e instanceof SyncError);
    assert.equal(e.code, "unauthorized");
    assert.match(e.message, message);
    return true;
  });
}

Deno.test("a signed token round-trips its claims", async () => {
  const claims = await verify(await signToken(secret, { sub: "u1", buckets: ["a", "b"] }));
  assert.equal(claims.sub, "u1");
  assert.deepEqual(claims.buckets, ["a", "b"]);
});

Deno.test("wrong secret, expiry, garbage and alg=none are refused", async () => {
  await rejects(await signToken("o".repeat(32), { sub: "u", buckets: [] }), /invalid/);
  await rejects(await signToken(secret, { sub: "u", buckets: [] }, -10), /expired/);
  await rejects("not.a.jwt", /invalid/);
  const none = btoa(JSON.stringify({ alg: "none" })).replace(/=/g, "") + "." +
    btoa(JSON.stringify({ sub: "u", exp: 9e9, buckets: ["*"] })).replace(/=/g, "") + ".";
  await rejects(none, /invalid/);
});

Deno.test("tokens without exp or with malformed buckets are refused", async () => {
  const key = new TextEncoder().encode(secret);
  const noExp = await new SignJWT({ buckets: [] }).setProtectedHeader({ alg: "HS256" })
    .setSubject("u").sign(key);
  await rejects(noExp, /invalid/);
  const badBuckets = await new SignJWT({ buckets: "a" }).setProtectedHeader({ alg: "HS256" })
    .setSubject("u").setExpirationTime("1h").sign(key);
  await rejects(badBuckets, /buckets/);
});

Deno.test("a remembered token still expires, and a tampered copy is still checked", async () => {
  const fresh = createTokenVerifier(secret);
  const token = await signToken(secret, { sub: "u", buckets: ["a"] }, 2);
  assert.equal((await fresh(token)).sub, "u");
  assert.equal((await fresh(token)).sub, "u", "from memory");
  const [head, body, sig] = token.split(".");
  const forged = `${head}.${
    btoa(JSON.stringify({ sub: "u", buckets: ["*"], exp: 9e9 })).replace(/=/g, "")
  }.${sig}`;
  assert.notEqual(forged, `${head}.${body}.${sig}`);
  await assert.rejects(fresh(forged), /invalid/);
  await new Promise((r) => setTimeout(r, 2100));
  await assert.rejects(fresh(token), /expired/);
});

Deno.test("token is read from the Authorization header, then ?token=", () => {
  const h = new Request("http://x/v1/ws?token=q", { headers: { authorization: "Bearer h" } });
  assert.equal(tokenFromRequest(h), "h");
  assert.equal(tokenFromRequest(new Request("http://x/v1/ws?token=q")), "q");
  assert.equal(tokenFromRequest(new Request("http://x/v1/ws")), undefined);
  const basic = new Request("http://x/", { headers: { authorization: "Basic abc" } });
  assert.equal(tokenFromRequest(basic), undefined);
});

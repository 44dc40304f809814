import assert from "node:assert/strict";
import { hashPassword, needsRehash, randomToken, sha256Hex, verifyPassword } from "./password.ts";

Deno.test("a password verifies against its hash and nothing else", async () => {
  const h = await hashPassword("correct horse battery staple", 1000);
  assert.match(h, /^pbkdf2-sha256\$1000\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  assert.equal(await verifyPassword("correct horse battery staple", h), true);
  assert.equal(await verifyPassword("correct horse battery stapl", h), false);
  assert.equal(await verifyPassword("", h), false);
  assert.notEqual(await hashPassword("same", 1000), await hashPassword("same", 1000), "salted");
});

Deno.test("malformed stored hashes never verify", async () => {
  for (const bad of ["", "plain", "pbkdf2-sha256$x$a$b", "md5$1$a$b", "pbkdf2-sha256$1000$!!$!!"]) {
    assert.equal(await verifyPassword("x", bad), false, bad);
  }
});

Deno.test("weaker hashes are flagged for rehashing; tokens are random and hashed", async () => {
  assert.equal(needsRehash("pbkdf2-sha256$1000$a$b", 600_000), true);
  assert.equal(needsRehash("pbkdf2-sha256$600000$a$b", 600_000), false);
  assert.notEqual(randomToken(), randomToken());
  assert.match(randomToken(), /^[A-Za-z0-9_-]{43}$/);
  assert.equal(
    await sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});

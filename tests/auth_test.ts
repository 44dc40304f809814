/** Accounts (SPEC §5.1) end to end against PostgreSQL: register, login, refresh, revoke, grants. */
import assert from "node:assert/strict";
import { createTokenVerifier } from "../lib/jwt.ts";
import { api, SECRET } from "./support/crud.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const verify = createTokenVerifier(SECRET);

Deno.test("register, log in, use the token, read /me", opts, async () => {
  const t = await api();
  try {
    const reg = await t.call("POST", "/v1/auth/register", {
      token: null,
      body: { email: "Ada@Example.com", password: "s3cret-pass" },
    });
    assert.equal(reg.status, 201);
    assert.equal(reg.body.email, "ada@example.com");
    assert.deepEqual(reg.body.buckets, [`user:${reg.body.id}`], "a personal bucket from the start");
    assert.equal(JSON.stringify(reg.body).includes("s3cret"), false);

    const login = await t.call("POST", "/v1/auth/login", {
      token: null,
      body: { email: "ada@example.com", password: "s3cret-pass" },
    });
    assert.equal(login.status, 200);
    assert.equal(login.body.token_type, "Bearer");
    assert.equal(login.body.expires_in, 900);
    const claims = await verify(login.body.access_token);
    assert.deepEqual(
      [claims.sub, claims.buckets],
      [reg.body.id, reg.body.buckets],
      "the gateway accepts it",
    );

    const me = await t.call("GET", "/v1/auth/me", { token: login.body.access_token });
    assert.deepEqual(me.body, reg.body);
    const row = await t.call("POST", "/v1/tables/todos/rows", {
      token: login.body.access_token,
      body: { title: "mine" },
    });
    assert.equal(row.status, 201);
    assert.equal(row.body.bucket, `user:${reg.body.id}`, "written into the personal bucket");

    const [stored] = await t.db.sql<{ password_hash: string }>(
      "SELECT password_hash FROM synchub.users",
    );
    assert.match(stored!.password_hash, /^pbkdf2-sha256\$1000\$/);
  } finally {
    await t.close();
  }
});

Deno.test(
  "bad credentials and bad bodies: one generic 401, clear 400s, 409 for a taken email",
  opts,
  async () => {
    const t = await api();
    try {
      const creds = { email: "bob@example.com", password: "correct-horse" };
      assert.equal(
        (await t.call("POST", "/v1/auth/register", { token: null, body: creds })).status,
        201,
      );
      const again = await t.call("POST", "/v1/auth/register", {
        token: null,
        body: { ...creds, email: "BOB@example.com" },
      });
      assert.equal(again.status, 409);
      const wrong = await t.call("POST", "/v1/auth/login", {
        token: null,
        body: { ...creds, password: "wrong-horse" },
      });
      const unknown = await t.call("POST", "/v1/auth/login", {
        token: null,
        body: { ...creds, email: "nobody@example.com" },
      });
      assert.deepEqual([wrong.status, unknown.status], [401, 401]);
      assert.equal(
        wrong.body.error.message,
        unknown.body.error.message,
        "no hint which part was wrong",
      );
      for (
        const body of [
          { email: "not-an-email", password: "longenough" },
          { email: "nobody@example.com", password: "short" },
          { email: "nobody@example.com" },
          { ...creds, extra: 1 },
          "[]",
        ]
      ) {
        const r = await t.call("POST", "/v1/auth/register", { token: null, body });
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(r.body.error.code, body === "[]" ? "validation_failed" : "validation_failed");
      }
      assert.equal((await t.call("GET", "/v1/auth/me", { token: null })).status, 401);
    } finally {
      await t.close();
    }
  },
);

Deno.test(
  "refresh tokens rotate; a replayed one revokes its family; logout revokes",
  opts,
  async () => {
    const t = await api();
    try {
      const creds = { email: "cy@example.com", password: "correct-horse" };
      await t.call("POST", "/v1/auth/register", { token: null, body: creds });
      const login = (await t.call("POST", "/v1/auth/login", { token: null, body: creds })).body;
      const first = await t.call("POST", "/v1/auth/refresh", {
        token: null,
        body: { refresh_token: login.refresh_token },
      });
      assert.equal(first.status, 200);
      assert.notEqual(first.body.refresh_token, login.refresh_token, "rotated");
      // Used again at once (a second tab, a retried request): refused, the session lives on.
      const twice = await t.call("POST", "/v1/auth/refresh", {
        token: null,
        body: { refresh_token: login.refresh_token },
      });
      assert.equal(twice.status, 401);
      assert.match(twice.body.error.message, /a moment ago/);
      // Used again later: stolen and replayed. The whole family dies, the new token too.
      await t.db.sql(
        "UPDATE synchub.refresh_tokens SET used_at = now() - interval '1 minute' WHERE used_at IS NOT NULL",
      );
      const replay = await t.call("POST", "/v1/auth/refresh", {
        token: null,
        body: { refresh_token: login.refresh_token },
      });
      assert.equal(replay.status, 401);
      assert.match(replay.body.error.message, /already used/);
      const afterReplay = await t.call("POST", "/v1/auth/refresh", {
        token: null,
        body: { refresh_token: first.body.refresh_token },
      });
      assert.equal(afterReplay.status, 401);

      const other = (await t.call("POST", "/v1/auth/login", { token: null, body: creds })).body;
      assert.equal(
        (await t.call("POST", "/v1/auth/logout", {
          token: null,
          body: { refresh_token: other.refresh_token },
        })).status,
        204,
      );
      assert.equal(
        (await t.call("POST", "/v1/auth/refresh", {
          token: null,
          body: { refresh_token: other.refresh_token },
        })).status,
        401,
      );
      assert.equal(
        (await t.call("POST", "/v1/auth/refresh", {
          token: null,
          body: { refresh_token: "made-up" },
        })).status,
        401,
      );
      await t.db.sql("UPDATE synchub.refresh_tokens SET expires_at = now() - interval '1 second'");
      const fresh = (await t.call("POST", "/v1/auth/login", { token: null, body: creds })).body;
      await t.db.sql("UPDATE synchub.refresh_tokens SET expires_at = now() - interval '1 second'");
      const expired = await t.call("POST", "/v1/auth/refresh", {
        token: null,
        body: { refresh_token: fresh.refresh_token },
      });
      assert.equal(expired.status, 401);
      assert.match(expired.body.error.message, /expired/);
    } finally {
      await t.close();
    }
  },
);

Deno.test(
  "concurrent refreshes: one wins, the session survives; a revocation that raced a rotation holds",
  opts,
  async () => {
    const t = await api();
    try {
      const creds = { email: "di@example.com", password: "correct-horse" };
      await t.call("POST", "/v1/auth/register", { token: null, body: creds });
      const login = (await t.call("POST", "/v1/auth/login", { token: null, body: creds })).body;
      const refresh = (token: string) =>
        t.call("POST", "/v1/auth/refresh", { token: null, body: { refresh_token: token } });
      const both = await Promise.all([refresh(login.refresh_token), refresh(login.refresh_token)]);
      assert.deepEqual(both.map((r) => r.status).sort(), [200, 401]);
      const winner = both.find((r) => r.status === 200)!.body;
      const next = await refresh(winner.refresh_token);
      assert.equal(next.status, 200, "the winner's session was not revoked");

      // A logout whose UPDATE ran while a rotation was inserting the next token misses that
      // token but marks the family's older ones: the newest is refused all the same.
      await t.db.sql(
        "UPDATE synchub.refresh_tokens SET revoked_at = now() WHERE used_at IS NOT NULL",
      );
      const afterRace = await refresh(next.body.refresh_token);
      assert.equal(afterRace.status, 401);
      assert.match(afterRace.body.error.message, /revoked/);
    } finally {
      await t.close();
    }
  },
);

Deno.test(
  "admins grant buckets; others may not; a grant shows in the next token",
  opts,
  async () => {
    const t = await api({}, ["root@example.com"]);
    try {
      const admin = { email: "root@example.com", password: "admin-password" };
      const user = { email: "dee@example.com", password: "user-password" };
      await t.call("POST", "/v1/auth/register", { token: null, body: admin });
      const dee = (await t.call("POST", "/v1/auth/register", { token: null, body: user })).body;
      const adminTokens =
        (await t.call("POST", "/v1/auth/login", { token: null, body: admin })).body;
      const deeTokens = (await t.call("POST", "/v1/auth/login", { token: null, body: user })).body;
      // An admin's token says so with `role: "admin"`; its buckets are its own.
      const adminClaims = await verify(adminTokens.access_token);
      assert.equal(adminClaims.role, "admin");
      assert.equal(adminClaims.buckets.includes("*"), false);
      assert.equal((await verify(deeTokens.access_token)).role, undefined);

      const refused = await t.call("POST", `/v1/admin/users/${dee.id}/buckets`, {
        token: deeTokens.access_token,
        body: { bucket: "team" },
      });
      assert.equal(refused.status, 403);
      const granted = await t.call("POST", `/v1/admin/users/${dee.id}/buckets`, {
        token: adminTokens.access_token,
        body: { bucket: "team" },
      });
      assert.equal(granted.status, 200);
      assert.deepEqual(granted.body.buckets, [`user:${dee.id}`, "team"]);
      assert.equal(
        (await t.call("POST", `/v1/admin/users/${crypto.randomUUID()}/buckets`, {
          token: adminTokens.access_token,
          body: { bucket: "x" },
        })).status,
        404,
      );
      assert.equal(
        (await t.call("POST", `/v1/admin/users/${dee.id}/buckets`, {
          token: adminTokens.access_token,
          body: { bucket: "*" },
        })).status,
        400,
      );

      const renewed = (await t.call("POST", "/v1/auth/refresh", {
        token: null,
        body: { refresh_token: deeTokens.refresh_token },
      })).body;
      assert.deepEqual((await verify(renewed.access_token)).buckets, [`user:${dee.id}`, "team"]);
      const teamRow = await t.call("POST", "/v1/tables/todos/rows", {
        token: renewed.access_token,
        body: { title: "t", bucket: "team" },
      });
      assert.equal(teamRow.status, 201);
      const removed = await t.call("DELETE", `/v1/admin/users/${dee.id}/buckets/team`, {
        token: adminTokens.access_token,
      });
      assert.deepEqual(removed.body.buckets, [`user:${dee.id}`]);
    } finally {
      await t.close();
    }
  },
);

Deno.test(
  "rate limits answer 429 with Retry-After: per token, per address, and for login attempts",
  opts,
  async () => {
    const t = await api({ ratePerToken: 5, ratePerAddress: 1000, authAttemptsPerMinute: 6 });
    try {
      const token = await t.token(["a"]);
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 20; i++) {
        const r = await t.call("GET", "/v1/tables/todos/rows", { token });
        statuses.push(r.status);
        if (r.status === 429) {
          retryAfter = r.headers.get("retry-after");
          assert.equal(r.body.error.code, "rate_limited");
        }
      }
      assert.ok(statuses.filter((s) => s === 200).length >= 10, "the burst passes");
      assert.ok(statuses.includes(429), "then it is limited");
      assert.match(retryAfter ?? "", /^\d+$/);
      assert.equal(
        (await t.call("GET", "/v1/tables/todos/rows", {
          token: await t.token(["b"], "someone-else"),
        })).status,
        200,
        "per token holder",
      );

      const attempts: number[] = [];
      for (let i = 0; i < 10; i++) {
        const r = await t.call("POST", "/v1/auth/login", {
          token: null,
          body: { email: "nobody@example.com", password: "whatever1" },
          headers: { "x-forwarded-for": "203.0.113.9" },
        });
        attempts.push(r.status);
      }
      assert.deepEqual(attempts.slice(0, 6), [401, 401, 401, 401, 401, 401]);
      assert.ok(attempts.slice(6).every((s) => s === 429), `login attempts limited: ${attempts}`);
      const elsewhere = await t.call("POST", "/v1/auth/login", {
        token: null,
        body: { email: "somebody@example.com", password: "whatever1" },
        headers: { "x-forwarded-for": "198.51.100.7" },
      });
      assert.equal(elsewhere.status, 401, "per address");

      // A client cannot pick its address: the proxy's entry (the last) is the one counted.
      const spoofed: number[] = [];
      for (let i = 0; i < 8; i++) {
        const r = await t.call("POST", "/v1/auth/login", {
          token: null,
          body: { email: `n${i}@example.com`, password: "whatever1" },
          headers: { "x-forwarded-for": `10.0.0.${i}, 192.0.2.1` },
        });
        spoofed.push(r.status);
      }
      assert.ok(spoofed.slice(6).every((s) => s === 429), `spoofed prefixes: ${spoofed}`);

      // One account guessed at from many addresses is limited too.
      const guesses: number[] = [];
      for (let i = 0; i < 10; i++) {
        const r = await t.call("POST", "/v1/auth/login", {
          token: null,
          body: { email: "victim@example.com", password: `guess-${i}-x` },
          headers: { "x-forwarded-for": `198.18.0.${i}` },
        });
        guesses.push(r.status);
      }
      assert.ok(guesses.slice(6).every((s) => s === 429), `per account: ${guesses}`);

      // REST takes tokens from the Authorization header only: a URL's ends up in logs.
      const inUrl = await t.call("GET", `/v1/tables/todos/rows?token=${await t.token(["a"])}`, {
        token: null,
      });
      assert.equal(inUrl.status, 401);
    } finally {
      await t.close();
    }
  },
);

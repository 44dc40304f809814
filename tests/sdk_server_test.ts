/**
 * What the hub does for the SDK (SPEC §9): Idempotency-Key on REST writes, the WebSocket
 * `history` message, CORS for pages on other origins, the SDK bundle and the demo page.
 */
import assert from "node:assert/strict";
import { signToken } from "../lib/jwt.ts";
import { JWT_SECRET, type Stack, startStack } from "./support/stack.ts";
import { online, sdkClient } from "./support/sdk_clients.ts";
import { waitFor } from "./support/wait.ts";
import { TestClient } from "./support/ws_client.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function call(
  stack: Stack,
  method: string,
  path: string,
  o: { body?: unknown; key?: string; token?: string; headers?: Record<string, string> } = {},
) {
  const res = await fetch(`${stack.crud.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${o.token ?? await stack.token(["demo-a"])}`,
      "content-type": "application/json",
      ...(o.key ? { "idempotency-key": o.key } : {}),
      ...o.headers,
    },
    body: o.body === undefined ? null : JSON.stringify(o.body),
  });
  return { status: res.status, headers: res.headers, body: await res.json().catch(() => null) };
}

async function count(stack: Stack): Promise<number> {
  const [row] = await stack.db.sql<{ n: string }>("SELECT count(*) AS n FROM public.todos");
  return Number(row!.n);
}

Deno.test(
  "Idempotency-Key: a retried write is applied once and answered the same",
  opts,
  async () => {
    const stack = await startStack();
    try {
      const key = crypto.randomUUID();
      const first = await call(stack, "POST", "/v1/tables/todos/rows", {
        key,
        body: { title: "a" },
      });
      const again = await call(stack, "POST", "/v1/tables/todos/rows", {
        key,
        body: { title: "a" },
      });
      assert.equal(first.status, 201);
      assert.equal(again.status, 201);
      assert.deepEqual(again.body, first.body);
      assert.equal(again.headers.get("idempotent-replayed"), "true");
      assert.equal(again.headers.get("etag"), first.headers.get("etag"));
      assert.equal(await count(stack), 1);

      // The same key with another body is a client bug: refused, nothing written.
      const other = await call(stack, "POST", "/v1/tables/todos/rows", {
        key,
        body: { title: "b" },
      });
      assert.equal(other.status, 400);
      assert.match(other.body.error.message, /different request/);
      assert.equal(await count(stack), 1);

      // Another token subject has its own keys.
      const token = await signToken(JWT_SECRET, { sub: "someone-else", buckets: ["demo-a"] });
      const theirs = await call(stack, "POST", "/v1/tables/todos/rows", {
        key,
        token,
        body: { title: "a" },
      });
      assert.equal(theirs.status, 201);
      assert.notEqual(theirs.body.id, first.body.id);

      // Refusals are answers too: a 409 is replayed, not re-run.
      const id = first.body.id;
      const patch = (k: string) =>
        call(stack, "PATCH", `/v1/tables/todos/rows/${id}`, {
          key: k,
          body: { title: "x" },
          headers: { "if-match": "7" },
        });
      const k409 = crypto.randomUUID();
      assert.equal((await patch(k409)).status, 409);
      const replayed409 = await patch(k409);
      assert.equal(replayed409.status, 409);
      assert.equal(replayed409.headers.get("idempotent-replayed"), "true");

      // Batches, deletes, and a malformed key.
      const bkey = crypto.randomUUID();
      const ops = [{ op: "insert", row: { title: "b1" } }, { op: "insert", row: { title: "b2" } }];
      const b1 = await call(stack, "POST", "/v1/tables/todos/batch", { key: bkey, body: ops });
      const b2 = await call(stack, "POST", "/v1/tables/todos/batch", { key: bkey, body: ops });
      assert.equal(b1.status, 200);
      assert.deepEqual(b2.body, b1.body);
      assert.equal(await count(stack), 4);
      const dkey = crypto.randomUUID();
      assert.equal(
        (await call(stack, "DELETE", `/v1/tables/todos/rows/${id}`, { key: dkey })).status,
        200,
      );
      const d2 = await call(stack, "DELETE", `/v1/tables/todos/rows/${id}`, { key: dkey });
      assert.equal(d2.status, 200, "the delete's first answer, not a 404");
      assert.equal(
        (await call(stack, "POST", "/v1/tables/todos/rows", {
          key: "has space",
          body: { title: "c" },
        }))
          .status,
        400,
      );
    } finally {
      await stack.close();
    }
  },
);

Deno.test("Idempotency-Key: concurrent requests with one key run once", opts, async () => {
  const stack = await startStack();
  try {
    const key = crypto.randomUUID();
    const answers = await Promise.all(
      Array.from(
        { length: 6 },
        () => call(stack, "POST", "/v1/tables/todos/rows", { key, body: { title: "once" } }),
      ),
    );
    assert.deepEqual(answers.map((a) => a.status), Array(6).fill(201));
    assert.equal(new Set(answers.map((a) => a.body.id)).size, 1);
    assert.equal(await count(stack), 1);
    const [row] = await stack.db.sql(
      "SELECT status, body IS NOT NULL AS kept FROM synchub.idempotency_keys WHERE key = $1",
      [key],
    );
    assert.deepEqual(row, { status: 201, kept: true });
  } finally {
    await stack.close();
  }
});

Deno.test(
  "history: pages of retained changes, filtered by bucket; forbidden tables",
  opts,
  async () => {
    const stack = await startStack();
    const a = await TestClient.connect(stack.wsUrl, await stack.token(["demo-a"]));
    try {
      for (const title of ["one", "two", "three"]) {
        await call(stack, "POST", "/v1/tables/todos/rows", { body: { title } });
      }
      await call(stack, "POST", "/v1/tables/todos/rows", {
        body: { title: "not yours" },
        token: await stack.token(["demo-b"]),
      });
      await waitFor(
        async () => (await stack.bus.range("synchub.pg.public.todos")).end[0] === 4,
        "the bus",
      );

      a.send({ type: "history", ref: "h1", table: "public.todos" });
      const all = await a.reply("h1");
      assert.equal(all.type, "history");
      assert.deepEqual(all.changes.map((c: { after: { title: string } }) => c.after.title), [
        "one",
        "two",
        "three",
      ]);
      assert.equal(all.has_more, false);

      a.send({ type: "history", ref: "h2", table: "public.todos", limit: 2 });
      const page = await a.reply("h2");
      assert.equal(page.changes.length, 2);
      assert.equal(page.has_more, true);
      a.send({ type: "history", ref: "h3", table: "todos", since: page.cursor, limit: 2 });
      const rest = await a.reply("h3");
      assert.deepEqual(rest.changes.map((c: { after: { title: string } }) => c.after.title), [
        "three",
      ]);
      assert.equal(rest.has_more, false);

      // The cursor is a subscription cursor: nothing is missed or repeated from it.
      const sub = await a.subscribe("public.todos", { since: page.cursor });
      assert.equal(sub.type, "subscribed");
      const [c] = await a.changes(1);
      assert.equal(c!.change.after.title, "three");

      for (
        const [msg, code] of [
          [{ limit: 5000 }, "bad_request"],
          [{ since: "garbage" }, "bad_request"],
          [{ table: "public.nope" }, "not_found"],
        ] as const
      ) {
        a.send({ type: "history", ref: "bad", table: "public.todos", ...msg });
        const err = await a.reply("bad");
        assert.equal(err.type, "error");
        assert.equal(err.code, code, JSON.stringify(msg));
      }

      // A table without a bucket column is admin-only (SPEC §7's default).
      await stack.db.sql("CREATE TABLE public.plain (id int PRIMARY KEY, v text)");
      const forbidden = await waitFor(async () => {
        a.send({ type: "history", ref: "p", table: "public.plain" });
        const r = await a.reply("p");
        return r.code === "not_found" ? undefined : r;
      }, "the catalog to know the new table");
      assert.equal(forbidden.code, "forbidden");
      const admin = await TestClient.connect(
        stack.wsUrl,
        await signToken(JWT_SECRET, { sub: "root", buckets: [], role: "admin" }),
      );
      admin.send({ type: "history", ref: "p", table: "public.plain" });
      assert.equal((await admin.reply("p")).type, "history");
      await admin.close();

      // Through the SDK.
      const client = await sdkClient(stack);
      await online(client.hub);
      const viaSdk = await client.hub.history("public.todos", { limit: 100 });
      assert.equal(viaSdk.changes.length, 3);
      assert.equal(viaSdk.changes[0]!.op, "c");
      const empty = await client.hub.history("public.todos", { since: viaSdk.cursor });
      assert.deepEqual([empty.changes.length, empty.has_more], [0, false]);
      await client.close();
    } finally {
      await a.close();
      await stack.close();
    }
  },
);

Deno.test(
  "CORS: preflights answered before auth; listed and local-port origins allowed",
  opts,
  async () => {
    const stack = await startStack({
      env: { CORS_ORIGINS: "http://localhost:*,https://app.example" },
    });
    const none = await startStack();
    try {
      const preflight = (s: Stack, origin: string) =>
        fetch(`${s.crud.url}/v1/tables/todos/rows`, {
          method: "OPTIONS",
          headers: {
            origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type,idempotency-key",
          },
        });
      const ok = await preflight(stack, "http://localhost:28500");
      await ok.body?.cancel();
      assert.equal(ok.status, 204);
      assert.equal(ok.headers.get("access-control-allow-origin"), "http://localhost:28500");
      assert.match(ok.headers.get("access-control-allow-headers")!, /idempotency-key/);
      const no = await preflight(stack, "http://evil.example");
      await no.body?.cancel();
      assert.equal(no.headers.get("access-control-allow-origin"), null);
      const off = await preflight(none, "http://localhost:28500");
      await off.body?.cancel();
      assert.equal(off.status, 204, "not 401: the preflight carries no token");
      assert.equal(off.headers.get("access-control-allow-origin"), null, "CORS off by default");

      // Answers, errors included, carry the header so the page can read them.
      const refused = await fetch(`${stack.crud.url}/v1/tables/todos/rows`, {
        headers: { origin: "https://app.example" },
      });
      await refused.body?.cancel();
      assert.equal(refused.status, 401);
      assert.equal(refused.headers.get("access-control-allow-origin"), "https://app.example");
    } finally {
      await stack.close();
      await none.close();
    }
  },
);

Deno.test("GET /sdk/synchub.js is the SDK as one ES module; /demo/ is served", opts, async () => {
  const stack = await startStack();
  try {
    const res = await fetch(`${stack.crud.url}/sdk/synchub.js`);
    const code = await res.text();
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /javascript/);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.doesNotMatch(code, /^import /m, "one module, no imports");
    const again = await fetch(`${stack.crud.url}/sdk/synchub.js`, {
      headers: { "if-none-match": res.headers.get("etag")! },
    });
    await again.body?.cancel();
    assert.equal(again.status, 304);
    const mod = await import(
      `data:text/javascript;base64,${btoa(unescape(encodeURIComponent(code)))}`
    );
    for (const name of ["SyncHub", "indexedDbStorage", "fileStorage", "memoryStorage"]) {
      assert.equal(typeof mod[name], "function", name);
    }
    const sdk = await import("../sdk/mod.ts");
    for (const name of Object.keys(sdk)) assert.ok(name in mod, `the bundle exports ${name}`);

    const page = await fetch(`${stack.crud.url}/demo/`);
    assert.match(await page.text(), /<script type="module"/);
    const devToken = await fetch(`${stack.crud.url}/demo/dev-token`);
    await devToken.body?.cancel();
    assert.equal(devToken.status, 404, "dev tokens only in deno task dev");
    const traversal = await fetch(`${stack.crud.url}/demo/..%2Fdeno.json`);
    await traversal.body?.cancel();
    assert.equal(traversal.status, 404);
  } finally {
    await stack.close();
  }
});

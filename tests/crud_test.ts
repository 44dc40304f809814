/** The REST API (SPEC §5.2) against a real PostgreSQL: every route, every error path. */
import assert from "node:assert/strict";
import { signToken } from "../lib/jwt.ts";
import { freePort } from "../tools/servers/process.ts";
import { api, type Json, makeApp, SECRET } from "./support/crud.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("create, read, replace, patch and delete a row", opts, async () => {
  const t = await api();
  try {
    const created = await t.call("POST", "/v1/tables/todos/rows", { body: { title: "milk" } });
    assert.equal(created.status, 201);
    const row = created.body;
    assert.equal(row.bucket, "a", "a token with one bucket writes into it by default");
    assert.equal(row.done, false);
    assert.equal(row.version, 1);
    assert.match(row.updated_at, /^\d{4}-\d\d-\d\dT.*Z$/);
    assert.equal(created.headers.get("etag"), '"1"');

    const read = await t.call("GET", `/v1/tables/public.todos/rows/${row.id}`);
    assert.deepEqual(read.body, row);

    const replaced = await t.call("PUT", `/v1/tables/todos/rows/${row.id}`, {
      body: { title: "oat milk" },
    });
    assert.equal(replaced.status, 200);
    assert.equal(replaced.body.title, "oat milk");
    assert.equal(replaced.body.bucket, "a", "replace keeps the row in its bucket");
    assert.equal(replaced.body.version, 2);

    const patched = await t.call("PATCH", `/v1/tables/todos/rows/${row.id}`, {
      body: { done: true },
    });
    assert.deepEqual([patched.body.title, patched.body.done, patched.body.version], [
      "oat milk",
      true,
      3,
    ]);

    const deleted = await t.call("DELETE", `/v1/tables/todos/rows/${row.id}`);
    assert.equal(deleted.status, 200);
    assert.equal(deleted.body.id, row.id);
    assert.equal((await t.call("GET", `/v1/tables/todos/rows/${row.id}`)).status, 404);
  } finally {
    await t.close();
  }
});

Deno.test("lists filter by column, page by key and show only readable buckets", opts, async () => {
  const t = await api();
  try {
    await t.db.sql(`INSERT INTO todos (bucket, title, done)
      SELECT CASE WHEN g % 3 = 0 THEN 'b' WHEN g % 3 = 1 THEN 'a' ELSE NULL END, 'r' || g, g % 2 = 0
      FROM generate_series(1, 30) g`);
    const seen: string[] = [];
    let next: string | null = null;
    do {
      const page: { status: number; body: Json } = await t.call(
        "GET",
        `/v1/tables/todos/rows?limit=7${next ? `&after=${next}` : ""}`,
      );
      assert.equal(page.status, 200);
      assert.ok(page.body.rows.length <= 7);
      seen.push(...page.body.rows.map((r: Json) => r.id));
      for (const r of page.body.rows) assert.notEqual(r.bucket, "b");
      next = page.body.next;
    } while (next);
    // Rows without a bucket are no one's (SPEC §7): not listed for a token of bucket a.
    assert.equal(seen.length, 10, "the 10 rows of a");
    assert.equal(new Set(seen).size, 10, "no row twice across pages");
    assert.deepEqual(seen, [...seen].sort(), "keyset order");

    const done = await t.call("GET", "/v1/tables/todos/rows?done=true&bucket=a");
    assert.ok(done.body.rows.length > 0);
    assert.ok(done.body.rows.every((r: Json) => r.done === true && r.bucket === "a"));
    assert.equal(done.body.next, null);
  } finally {
    await t.close();
  }
});

Deno.test("buckets: foreign rows are invisible, foreign writes forbidden", opts, async () => {
  const t = await api();
  try {
    const tokenB = await t.token(["b"]);
    const [theirs] = await t.db.sql<{ id: string }>(
      "INSERT INTO todos (bucket, title) VALUES ('b', 'secret') RETURNING id",
    );
    const id = theirs!.id;
    assert.equal((await t.call("GET", `/v1/tables/todos/rows/${id}`)).status, 404);
    assert.equal(
      (await t.call("PATCH", `/v1/tables/todos/rows/${id}`, { body: { title: "mine" } })).status,
      404,
    );
    assert.equal((await t.call("DELETE", `/v1/tables/todos/rows/${id}`)).status, 404);
    const intoB = await t.call("POST", "/v1/tables/todos/rows", {
      body: { title: "x", bucket: "b" },
    });
    assert.equal(intoB.status, 403);
    assert.equal(intoB.body.error.code, "forbidden");

    // Moving one's own row into a foreign bucket is a write into that bucket.
    const mine = (await t.call("POST", "/v1/tables/todos/rows", { body: { title: "mine" } })).body;
    const move = await t.call("PATCH", `/v1/tables/todos/rows/${mine.id}`, {
      body: { bucket: "b" },
    });
    assert.equal(move.status, 403);

    // Unbucketed rows: no one's — read and written only with "*" (or by admins).
    const [shared] = await t.db.sql<{ id: string }>(
      "INSERT INTO todos (title) VALUES ('shared') RETURNING id",
    );
    assert.equal((await t.call("GET", `/v1/tables/todos/rows/${shared!.id}`)).status, 404);
    assert.equal(
      (await t.call("PATCH", `/v1/tables/todos/rows/${shared!.id}`, { body: { done: true } }))
        .status,
      404,
      "a row the token may not read is not found, whatever the write",
    );
    const star = await t.token(["*"]);
    assert.equal(
      (await t.call("PATCH", `/v1/tables/todos/rows/${shared!.id}`, {
        body: { done: true },
        token: star,
      })).status,
      200,
    );
    const two = await t.token(["a", "b"]);
    const ambiguous = await t.call("POST", "/v1/tables/todos/rows", {
      body: { title: "?" },
      token: two,
    });
    assert.equal(ambiguous.status, 400);
    assert.match(ambiguous.body.error.message, /"bucket"/);
    assert.equal(
      (await t.call("GET", `/v1/tables/todos/rows/${id}`, { token: tokenB })).body.title,
      "secret",
    );
    const [unchanged] = await t.db.sql("SELECT title, bucket FROM todos WHERE id = $1", [id]);
    assert.deepEqual(unchanged, { title: "secret", bucket: "b" });
  } finally {
    await t.close();
  }
});

Deno.test(
  "conflicts: If-Match and last-write-wins answer 409 with the current row",
  opts,
  async () => {
    const t = await api();
    try {
      const row = (await t.call("POST", "/v1/tables/todos/rows", { body: { title: "v1" } })).body;
      const ok = await t.call("PATCH", `/v1/tables/todos/rows/${row.id}`, {
        body: { title: "v2" },
        headers: { "if-match": '"1"' },
      });
      assert.equal(ok.status, 200);
      const stale = await t.call("PATCH", `/v1/tables/todos/rows/${row.id}`, {
        body: { title: "lost" },
        headers: { "if-match": "1" },
      });
      assert.equal(stale.status, 409);
      assert.equal(stale.body.error.code, "conflict");
      assert.equal(stale.body.error.details.current.title, "v2");
      assert.equal(stale.body.error.details.current.version, 2);
      const staleBody = await t.call("PUT", `/v1/tables/todos/rows/${row.id}`, {
        body: { title: "lost", version: 1 },
      });
      assert.equal(staleBody.status, 409, "a body carrying an old version conflicts too");

      const older = await t.call("PATCH", `/v1/tables/todos/rows/${row.id}`, {
        body: { title: "from the past", updated_at: "2000-01-01T00:00:00Z" },
      });
      assert.equal(older.status, 409);
      assert.match(older.body.error.message, /last write wins/);
      const later = new Date(Date.now() + 60_000).toISOString();
      const newer = await t.call("PATCH", `/v1/tables/todos/rows/${row.id}`, {
        body: { title: "from the future", updated_at: later },
      });
      assert.equal(newer.status, 200);
      assert.equal(
        Date.parse(newer.body.updated_at),
        Date.parse(later),
        "the client's time is kept",
      );
      const del = await t.call("DELETE", `/v1/tables/todos/rows/${row.id}`, {
        headers: { "if-match": "1" },
      });
      assert.equal(del.status, 409);
      assert.equal(
        (await t.call("GET", `/v1/tables/todos/rows/${row.id}`)).body.title,
        "from the future",
      );
      const badMatch = await t.call("PATCH", `/v1/tables/todos/rows/${row.id}`, {
        body: {},
        headers: { "if-match": "abc" },
      });
      assert.equal(badMatch.status, 400);
    } finally {
      await t.close();
    }
  },
);

Deno.test("a batch is all or nothing", opts, async () => {
  const t = await api();
  try {
    const keep = (await t.call("POST", "/v1/tables/todos/rows", { body: { title: "keep" } })).body;
    const failing = await t.call("POST", "/v1/tables/todos/batch", {
      body: [
        { op: "insert", row: { title: "one" } },
        { op: "update", id: keep.id, row: { done: true } },
        { op: "insert", row: { title: "two", bucket: "b" } },
      ],
    });
    assert.equal(failing.status, 403);
    assert.equal(failing.body.error.details.index, 2);
    const rows = await t.db.sql("SELECT title, done FROM todos ORDER BY title");
    assert.deepEqual(rows, [{ title: "keep", done: false }], "nothing of the failed batch remains");

    const ok = await t.call("POST", "/v1/tables/public.todos/batch", {
      body: [
        { op: "insert", row: { title: "one" } },
        { op: "update", row: { id: keep.id, done: true }, version: 1 },
        { op: "delete", id: keep.id },
      ],
    });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body.results.map((r: Json) => r.op), ["insert", "update", "delete"]);
    assert.equal(ok.body.results[1].row.version, 2);
    assert.deepEqual(await t.db.sql("SELECT title FROM todos"), [{ title: "one" }]);

    for (const body of [[], {}, [{ op: "upsert", row: {} }], [{ op: "update" }], "[1,"]) {
      const r = await t.call("POST", "/v1/tables/todos/batch", { body });
      assert.equal(r.status, 400, JSON.stringify(body));
    }
  } finally {
    await t.close();
  }
});

Deno.test("batches over the same rows in opposite orders queue, never deadlock", opts, async () => {
  const t = await api();
  try {
    const ids: string[] = [];
    for (const title of ["a", "b", "c"]) {
      ids.push((await t.call("POST", "/v1/tables/todos/rows", { body: { title } })).body.id);
    }
    const batch = (order: string[], n: number) =>
      t.call("POST", "/v1/tables/todos/batch", {
        body: order.map((id) => ({ op: "update", id, row: { title: `round ${n}` } })),
      });
    const replies = await Promise.all(
      Array.from({ length: 30 }, (_, n) => batch(n % 2 ? ids : [...ids].reverse(), n)),
    );
    assert.deepEqual(
      [...new Set(replies.map((r) => r.status))],
      [200],
      JSON.stringify(replies.find((r) => r.status !== 200)?.body),
    );
    const versions = await t.db.sql<{ version: number }>("SELECT version FROM todos");
    assert.deepEqual(versions.map((v) => v.version), [31, 31, 31], "every batch applied whole");
  } finally {
    await t.close();
  }
});

Deno.test("bad requests get clear JSON errors and change nothing", opts, async () => {
  const t = await api();
  try {
    const cases: [string, string, unknown, number, string, RegExp?][] = [
      ["POST", "/v1/tables/todos/rows", '{"title":', 400, "invalid_json"],
      ["POST", "/v1/tables/todos/rows", "", 400, "invalid_json"],
      [
        "POST",
        "/v1/tables/todos/rows",
        { title: "x", colour: "red" },
        400,
        "validation_failed",
        /"colour"/,
      ],
      ["POST", "/v1/tables/todos/rows", { title: 5 }, 400, "validation_failed", /"title"/],
      [
        "POST",
        "/v1/tables/todos/rows",
        { done: true },
        400,
        "validation_failed",
        /"title".*required/,
      ],
      ["POST", "/v1/tables/todos/rows", [1, 2], 400, "validation_failed"],
      ["POST", "/v1/tables/nope/rows", { title: "x" }, 404, "not_found", /nope/],
      ["GET", "/v1/tables/todos/rows?colour=red", undefined, 400, "validation_failed", /colour/],
      ["GET", "/v1/tables/todos/rows?limit=0", undefined, 400, "bad_request"],
      ["GET", "/v1/tables/todos/rows?after=!!", undefined, 400, "bad_request"],
      ["GET", "/v1/tables/todos/rows/not-a-uuid", undefined, 400, "validation_failed"],
      ["GET", `/v1/tables/todos/rows/${crypto.randomUUID()}`, undefined, 404, "not_found"],
      ["PATCH", `/v1/tables/todos/rows/${crypto.randomUUID()}`, { title: "x" }, 404, "not_found"],
      ["GET", "/v1/nothing/here", undefined, 404, "not_found"],
    ];
    for (const [method, path, body, status, code, message] of cases) {
      const r = await t.call(method, path, body === undefined ? {} : { body });
      assert.equal(
        r.status,
        status,
        `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`,
      );
      assert.equal(r.body.error.code, code, `${method} ${path}`);
      if (message) assert.match(r.body.error.message, message);
      assert.ok(!JSON.stringify(r.body).includes("    at "), "no stack trace");
    }
    assert.equal((await t.call("GET", "/v1/tables/todos/rows", { token: null })).status, 401);
    assert.equal((await t.call("GET", "/v1/tables/todos/rows", { token: "garbage" })).status, 401);
    const huge = await t.call("POST", "/v1/tables/todos/rows", {
      body: { title: "x".repeat(100_000) },
    });
    assert.equal(huge.status, 413);
    assert.deepEqual(await t.db.sql("SELECT count(*)::int AS n FROM todos"), [{ n: 0 }]);
  } finally {
    await t.close();
  }
});

Deno.test(
  "every publication table is served, columns and types read from the database",
  opts,
  async () => {
    const t = await api();
    try {
      await t.db.sql(`CREATE TABLE notes (
      id bigserial PRIMARY KEY, bucket text, body text NOT NULL, score numeric, meta jsonb,
      tags text[], at timestamptz, blob bytea, stamp timestamptz GENERATED ALWAYS AS (at) STORED)`);
      const created = await t.call("POST", "/v1/tables/notes/rows", {
        body: {
          body: "n",
          score: "1.50",
          meta: { k: [1] },
          tags: ["x", "y"],
          at: "2024-01-02T03:04:05.5Z",
          blob: "AP8Q",
        },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.deepEqual(
        { ...created.body, id: undefined },
        {
          id: undefined,
          bucket: "a",
          body: "n",
          score: "1.50",
          meta: { k: [1] },
          tags: ["x", "y"],
          at: "2024-01-02T03:04:05.5Z",
          blob: "AP8Q",
        },
        "the generated column is not published, so it is not served",
      );
      const gen = await t.call("POST", "/v1/tables/notes/rows", {
        body: { body: "n", stamp: "2024-01-01" },
      });
      assert.equal(gen.status, 400);
      assert.match(gen.body.error.message, /"stamp"/);
      const byId = await t.call("GET", `/v1/tables/notes/rows/${created.body.id}`);
      assert.equal(byId.status, 200);
      const tables = await t.call("GET", "/v1/tables");
      assert.deepEqual(tables.body.tables.map((x: Json) => x.table).sort(), [
        "public.notes",
        "public.todos",
      ]);
    } finally {
      await t.close();
    }
  },
);

Deno.test("a dead database gives 503 and /ready false; the service survives", opts, async () => {
  const port = freePort(); // nothing listens here
  const { pool, app, close } = makeApp(`postgres://postgres@127.0.0.1:${port}/none`);
  const token = await signToken(SECRET, { sub: "a", buckets: ["a"] });
  try {
    const r = await app.fetch(
      new Request("http://crud/v1/tables/todos/rows", {
        headers: { authorization: `Bearer ${token}` },
      }),
    );
    assert.equal(r.status, 503);
    assert.equal((await r.json()).error.code, "unavailable");
    const ready = await app.fetch(new Request("http://crud/ready"));
    assert.equal(ready.status, 503);
    assert.deepEqual((await ready.json()).checks, { database: false });
    assert.equal((await app.fetch(new Request("http://crud/health"))).status, 200);
    const metrics = await (await app.fetch(new Request("http://crud/metrics"))).text();
    assert.match(
      metrics,
      /synchub_crud_requests_total\{method="GET",route="\/v1\/tables\/:table\/rows",status="503"\} 1/,
    );
  } finally {
    await close();
    await pool.end();
  }
});

Deno.test("hostile keys, cursors and filters get 400s, never 500s", opts, async () => {
  const t = await api();
  try {
    await t.db.sql("CREATE TABLE blobs (id bytea PRIMARY KEY, bucket text, doc json, spot point)");
    const star = await t.token(["*"]);
    const cases: [string, string, unknown][] = [
      // `after` is the last key as the path writes it.
      ["GET", "/v1/tables/blobs/rows?after=***", undefined],
      ["GET", `/v1/tables/blobs/rows?after=${encodeURIComponent('{"a":1}')}`, undefined],
      ["GET", "/v1/tables/todos/rows?after=not-a-uuid", undefined],
      ["GET", "/v1/tables/blobs/rows?spot=(1,2)", undefined],
      ["POST", "/v1/tables/blobs/batch", [{ op: "delete", row: { id: "***" } }]],
      ["POST", "/v1/tables/todos/batch", [{ op: "delete", row: { id: 5 } }]],
      ["POST", "/v1/tables/todos/batch", [{ op: "delete", row: { constructor: 1 } }]],
      ["GET", "/v1/tables/blobs/rows/***", undefined],
    ];
    for (const [method, path, body] of cases) {
      const r = await t.call(
        method,
        path,
        body === undefined ? { token: star } : { body, token: star },
      );
      assert.equal(r.status, 400, `${method} ${path}: ${JSON.stringify(r.body)}`);
    }
    await t.db.sql(`INSERT INTO blobs VALUES ('\\x01', NULL, '{"a": [1]}', NULL)`);
    const jsonFilter = await t.call(
      "GET",
      `/v1/tables/blobs/rows?doc=${encodeURIComponent('{"a":[1]}')}`,
      { token: star },
    );
    assert.equal(jsonFilter.status, 200, JSON.stringify(jsonFilter.body));
    assert.deepEqual(jsonFilter.body.rows.map((r: Json) => r.id), ["AQ=="]);
  } finally {
    await t.close();
  }
});

Deno.test(
  "last-write-wins cannot be poisoned; versions are the server's to number",
  opts,
  async () => {
    const t = await api();
    try {
      const created = await t.call("POST", "/v1/tables/todos/rows", {
        body: { title: "x", version: 99 },
      });
      assert.equal(created.status, 201);
      assert.equal(created.body.version, 1, "a new row starts at version 1 whatever the body says");
      const id = created.body.id;
      for (const updated_at of ["infinity", "9999-01-01", "yesterday"]) {
        const r = await t.call("PATCH", `/v1/tables/todos/rows/${id}`, {
          body: { title: "y", updated_at },
        });
        assert.equal(r.status, 400, updated_at);
        assert.match(r.body.error.message, /updated_at/);
      }
      // A clock far ahead is recorded as the server's time: it cannot win every later write.
      for (
        const updated_at of [
          "9999-01-01T00:00:00Z",
          new Date(Date.now() + 3_600_000).toISOString(),
        ]
      ) {
        const r = await t.call("PATCH", `/v1/tables/todos/rows/${id}`, {
          body: { title: "y", updated_at },
          headers: { "if-match": "*" },
        });
        assert.equal(r.status, 200, updated_at);
        assert.ok(Date.parse(r.body.updated_at) <= Date.now(), `${updated_at} was clamped`);
      }
      const any = await t.call("PATCH", `/v1/tables/todos/rows/${id}`, {
        body: { title: "z" },
        headers: { "if-match": "*" },
      });
      assert.equal(any.status, 200);
      assert.equal(any.body.version, 4);
    } finally {
      await t.close();
    }
  },
);

Deno.test("a table whose bucket column is not published is not served", opts, async () => {
  const t = await api();
  try {
    await t.db.sql(
      "CREATE SCHEMA hidden; CREATE TABLE hidden.leaky (id int PRIMARY KEY, bucket text, v text)",
    );
    await t.db.sql("DROP PUBLICATION synchub");
    await t.db.sql("CREATE PUBLICATION synchub FOR TABLE public.todos, hidden.leaky (id, v)");
    const star = await t.token(["*"]);
    const r = await t.call("GET", "/v1/tables/hidden.leaky/rows", { token: star });
    assert.equal(r.status, 404);
    assert.equal((await t.call("GET", "/v1/tables/todos/rows", { token: star })).status, 200);
  } finally {
    await t.close();
  }
});

Deno.test(
  "last write wins compares instants in UTC on a timestamp column without time zone",
  opts,
  async () => {
    const t = await api();
    try {
      await t.db.sql(`CREATE TABLE notes_naive (
        id bigserial PRIMARY KEY, bucket text, body text,
        updated_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'))`);
      const path = "/v1/tables/notes_naive/rows";
      // 12:00 in Tokyo is 03:00 UTC: stored as 03:00, not as the wall-clock 12:00.
      const created = await t.call("POST", path, {
        body: { body: "first", updated_at: "2026-01-01T12:00:00+09:00" },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(Date.parse(created.body.updated_at), Date.parse("2026-01-01T03:00:00Z"));
      const id = created.body.id;
      // 04:00 UTC is an hour later than the stored instant, though "04:00" < "12:00" as text.
      const later = await t.call("PATCH", `${path}/${id}`, {
        body: { body: "later", updated_at: "2026-01-01T04:00:00Z" },
      });
      assert.equal(later.status, 200, JSON.stringify(later.body));
      // 11:30 in Tokyo (02:30 UTC) is older than what is stored: it loses.
      const older = await t.call("PATCH", `${path}/${id}`, {
        body: { body: "older", updated_at: "2026-01-01T11:30:00+09:00" },
      });
      assert.equal(older.status, 409);
      assert.match(older.body.error.message, /last write wins/);
      assert.equal((await t.call("GET", `${path}/${id}`)).body.body, "later");
    } finally {
      await t.close();
    }
  },
);

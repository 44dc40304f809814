/**
 * Randomized hostile requests at every route of the CRUD service: malformed and hostile bodies,
 * headers, paths and query strings. Whatever arrives: no 5xx, no crash, a JSON error with a stable
 * code and no stack trace, and no row changed by a rejected request. Foreign buckets stay untouched
 * and unseen throughout. The seed is printed; `HOSTILE_SEED=<n>` replays a run.
 */
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { ERROR_CODES } from "../lib/errors.ts";
import { signToken } from "../lib/jwt.ts";
import { serve } from "../lib/http/serve.ts";
import { silentLogger } from "../lib/log.ts";
import { api, type Json, SECRET } from "./support/crud.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const ITERATIONS = Number(Deno.env.get("HOSTILE_ITERATIONS") ?? 600);

/** mulberry32: small, seedable, good enough to pick test cases. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ROUTES: [string, string][] = [
  ["POST", "/v1/auth/register"],
  ["POST", "/v1/auth/login"],
  ["POST", "/v1/auth/refresh"],
  ["POST", "/v1/auth/logout"],
  ["GET", "/v1/auth/me"],
  ["POST", "/v1/admin/users/{user}/buckets"],
  ["DELETE", "/v1/admin/users/{user}/buckets/{bucket}"],
  ["GET", "/v1/tables"],
  ["GET", "/v1/tables/{table}/rows"],
  ["POST", "/v1/tables/{table}/rows"],
  ["GET", "/v1/tables/{table}/rows/{id}"],
  ["PUT", "/v1/tables/{table}/rows/{id}"],
  ["PATCH", "/v1/tables/{table}/rows/{id}"],
  ["DELETE", "/v1/tables/{table}/rows/{id}"],
  ["POST", "/v1/tables/{table}/batch"],
  ["GET", "/openapi.json"],
  ["GET", "/docs"],
  ["GET", "/health"],
  ["GET", "/ready"],
  ["GET", "/metrics"],
  ["GET", "/"],
];
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "PROPFIND"];

const HOSTILE_SEGMENTS = [
  "",
  "%00",
  "..",
  "..%2F..%2Fetc%2Fpasswd",
  "%E0%A4%A",
  "%",
  "😀",
  "a".repeat(3000),
  "'; DROP TABLE todos; --",
  '"',
  "null",
  "__proto__",
  "constructor",
  "-1",
  "1e999",
  "%5B1%2C2%5D",
  "%5B%5D",
  "*",
  " ",
];
const TABLES = [
  "todos",
  "public.todos",
  "TODOS",
  "todos.",
  ".todos",
  "public.todos.extra",
  "synchub.users",
  "synchub.refresh_tokens",
  "users",
  "pg_catalog.pg_authid",
  "information_schema.tables",
  "todos%3BDROP%20TABLE%20todos",
];
const QUERY = [
  () => `limit=${pickFrom(["-1", "0", "1", "1001", "1.5", "NaN", "1e309", "abc", "", "0x10"])}`,
  () =>
    `after=${
      pickFrom([
        "!!",
        "",
        btoa("[]"),
        btoa("{}"),
        btoa('["not-a-uuid"]'),
        btoa(`["${crypto.randomUUID()}"]`),
        btoa("[null]"),
        btoa("[1,2,3]"),
        btoa("x".repeat(3000)),
        "%FF%FE",
      ])
    }`,
  () => `title=${pickFrom(["x", "", "%00", "'%20OR%201=1", "%25"])}`,
  () => "bucket=b",
  () => "bucket=",
  () => "colour=red",
  () => "__proto__=1",
  () => "constructor=1",
  () => `done=${pickFrom(["maybe", "true", "1", ""])}`,
  () => `updated_at=${pickFrom(["yesterday", "2020-01-01", "infinity", "-infinity"])}`,
  () => `version=${pickFrom(["9999999999999", "-1", "1.5", "x"])}`,
  () => `id=${pickFrom(["not-a-uuid", crypto.randomUUID(), ""])}`,
  () => "token=garbage",
  () => "limit=1&limit=2",
];
const KNOWN_CODES = new Set(Object.keys(ERROR_CODES));

let random = Math.random;
const pickFrom = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const chance = (p: number) => random() < p;

interface State {
  ids: { a: string; b: string; open: string };
  userId: string;
  tokens: { a: string; adminClaimed: string; expired: string; wrongSecret: string; none: string };
}

function hostileToken(s: State): string | null {
  return pickFrom<string | null>([
    null,
    "",
    "garbage",
    "a.b.c",
    s.tokens.a + "x",
    s.tokens.adminClaimed,
    s.tokens.expired,
    s.tokens.wrongSecret,
    s.tokens.none,
    "x".repeat(10_000),
  ]);
}

/** Bodies no route accepts: broken JSON, bad encodings, absurd sizes and depths. */
const MALFORMED: (() => BodyInit | undefined | unknown)[] = [
  () => undefined,
  () => "",
  () => "{",
  () => '{"title":',
  () => "nul",
  () => '{"title":"x"}}',
  () => "\u0000",
  () => new Uint8Array([0xff, 0xfe, 0x7b, 0x7d]) as Uint8Array<ArrayBuffer>,
  () => "\ufeff{}",
  () => "[".repeat(5000) + "]".repeat(5000),
  () => '{"a":'.repeat(3000) + "1" + "}".repeat(3000),
  () => JSON.stringify({ title: "x".repeat(70_000) }),
  () => null,
  () => 1,
  () => '"str"',
  () => true,
  () => [],
  () => [{}],
  () => ({}),
  () => '{"__proto__":{"title":"x","bucket":"b"}}',
  () => '{"constructor":{"prototype":{"admin":true}},"title":"x"}',
];

/** A column's worth of hostile values, typed right or wrong. */
const VALUES: unknown[] = [
  "x",
  "",
  "a\u0000b",
  "\ud800",
  "'; DROP TABLE todos; --",
  "x".repeat(10_000),
  1,
  -1,
  1.5,
  1e308,
  true,
  null,
  [],
  ["x"],
  {},
  { $ne: null },
  "not a date",
  "0001-01-01T00:00:00Z",
  "9999-12-31T23:59:59Z",
  "2020-01-01T00:00:00Z",
  "a",
  "b",
  "*",
];
const COLUMNS = ["title", "done", "bucket", "id", "version", "updated_at"];
const ODD_COLUMNS = ["colour", "__proto__", "constructor", 'title"; DROP TABLE todos; --', ""];

/** A row body: mostly the table's columns, with values good and bad. */
function rowBody(): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  if (chance(0.6)) row.title = chance(0.7) ? "ok" : pickFrom(VALUES);
  const n = Math.floor(random() * 3);
  for (let i = 0; i < n; i++) {
    const col = chance(0.85) ? pickFrom(COLUMNS) : pickFrom(ODD_COLUMNS);
    row[col] = pickFrom(VALUES);
  }
  return row;
}

function batchBody(s: State): unknown {
  const id = () =>
    pickFrom<unknown>([s.ids.a, s.ids.a, s.ids.b, s.ids.open, crypto.randomUUID(), "nope", 5]);
  const op = (): Record<string, unknown> => {
    const kind = pickFrom(["insert", "insert", "update", "update", "delete", "drop"]);
    const o: Record<string, unknown> = { op: kind };
    if (kind !== "insert" || chance(0.1)) o.id = id();
    if (kind !== "delete" || chance(0.1)) o.row = chance(0.6) ? { title: "ok" } : rowBody();
    if (chance(0.2)) o.version = pickFrom([1, 2, 999, -1, "1"]);
    return o;
  };
  if (chance(0.03)) {
    return Array.from({ length: 1500 }, () => ({ op: "insert", row: { title: "x" } }));
  }
  if (chance(0.05)) return op(); // not an array
  return Array.from({ length: 1 + Math.floor(random() * 5) }, op);
}

function accountBody(): unknown {
  return pickFrom<unknown>([
    { email: "new@example.com", password: "long-enough-password" },
    { email: "someone@example.com", password: "a-good-password" },
    { email: "someone@example.com", password: "a-wrong-password" },
    { email: "'; drop@example.com", password: "long-enough-password" },
    { email: ["a@example.com"], password: {} },
    { email: "a@example.com", password: "x".repeat(2000) },
    { email: "a@example.com", password: "short" },
    { email: "a@example.com", password: "long-enough-password", admin: true },
    { email: "a\u0000@example.com", password: "long-enough-password" },
    { refresh_token: "garbage" },
    { refresh_token: 5 },
    { refresh_token: "a".repeat(300) },
    { bucket: "*" },
    { bucket: "team" },
    { bucket: " " },
    { bucket: "a\u0000" },
    { bucket: ["a"] },
  ]);
}

/** A hostile body for a route: mostly one shaped for it, sometimes anything at all. */
function hostileBody(s: State, path: string): BodyInit | null | undefined {
  const r = random();
  const value = r < 0.25
    ? pickFrom(MALFORMED)()
    : path.includes("/batch")
    ? batchBody(s)
    : path.includes("/rows")
    ? r < 0.9 ? rowBody() : batchBody(s)
    : r < 0.9
    ? accountBody()
    : rowBody();
  if (value === undefined) return undefined;
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return value as Uint8Array<ArrayBuffer>;
  return JSON.stringify(value);
}

function hostilePath(s: State): { method: string; path: string } {
  const [routeMethod, template] = pickFrom(ROUTES);
  const method = chance(0.1) ? pickFrom(METHODS) : routeMethod;
  const seg = (real: string[]) => chance(0.6) ? pickFrom(real) : pickFrom(HOSTILE_SEGMENTS);
  let path = template
    .replace("{table}", () => chance(0.7) ? pickFrom(TABLES.slice(0, 2)) : pickFrom(TABLES))
    .replace(
      "{id}",
      () => seg([s.ids.a, s.ids.a, s.ids.b, s.ids.open, crypto.randomUUID(), "not-a-uuid"]),
    )
    .replace("{user}", () => seg([s.userId, crypto.randomUUID()]))
    .replace("{bucket}", () => seg(["a", "b", "team"]));
  if (chance(0.05)) path += pickFrom(["/", "//", "/extra", "?", "#frag", "/.."]);
  if (chance(0.4)) {
    const n = 1 + Math.floor(random() * 3);
    path += "?" + Array.from({ length: n }, () => pickFrom(QUERY)()).join("&");
  }
  return { method, path };
}

function hostileHeaders(s: State): Record<string, string> {
  const headers: Record<string, string> = {};
  // Mostly a valid token, so the requests get past authentication to the code behind it.
  const token = chance(0.7) ? s.tokens.a : hostileToken(s);
  if (token !== null) {
    headers.authorization = chance(0.8) ? `Bearer ${token}` : pickFrom([
      `bearer  ${token} `,
      `Basic ${btoa("a:b")}`,
      "Bearer",
      `Bearer ${token} ${token}`,
      token,
    ]);
  }
  if (chance(0.5)) {
    headers["content-type"] = pickFrom([
      "application/json",
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/json; charset=latin1",
      "",
    ]);
  }
  if (chance(0.3)) {
    headers["if-match"] = pickFrom([
      '"1"',
      "1",
      "*",
      '"abc"',
      "-1",
      "99999999999999999999",
      'W/"1"',
      '"1", "2"',
      "",
      "1.5",
    ]);
  }
  if (chance(0.2)) {
    headers["x-forwarded-for"] = pickFrom([
      "",
      "not-an-ip",
      "1.2.3.4, 5.6.7.8",
      "::1",
      "x".repeat(500),
    ]);
  }
  if (chance(0.1)) headers["content-length"] = pickFrom(["-1", "abc", "99999999999", "0"]);
  if (chance(0.1)) headers.origin = pickFrom(["https://evil.example", "null"]);
  return headers;
}

/** Everything a request could change: the rows and the accounts, as one comparable string. */
async function snapshot(t: Awaited<ReturnType<typeof api>>): Promise<string> {
  const rows = await t.db.sql(
    "SELECT to_jsonb(x) AS j FROM (SELECT * FROM todos ORDER BY id) x",
  );
  const accounts = await t.db.sql(
    `SELECT (SELECT coalesce(jsonb_agg(u ORDER BY id), '[]') FROM synchub.users u) AS users,
            (SELECT coalesce(jsonb_agg(b ORDER BY user_id, bucket), '[]') FROM synchub.user_buckets b) AS buckets,
            (SELECT coalesce(jsonb_agg(r ORDER BY id), '[]') FROM synchub.refresh_tokens r) AS tokens`,
  );
  return JSON.stringify([rows, accounts]);
}

Deno.test(
  "randomized hostile requests: no 5xx, JSON errors, nothing changed by a rejected request",
  opts,
  async () => {
    const seed = Number(Deno.env.get("HOSTILE_SEED") ?? Math.floor(Math.random() * 2 ** 31));
    random = prng(seed);
    console.log(`hostile seed ${seed} (HOSTILE_SEED=${seed} replays it), ${ITERATIONS} requests`);
    const t = await api();
    try {
      // Rows of the token's bucket, of a foreign one, and of none.
      const [a, b, open] = await t.db.sql<{ id: string }>(
        `INSERT INTO todos (bucket, title)
         VALUES ('a', 'mine'), ('b', 'foreign'), (NULL, 'open') RETURNING id`,
      );
      const user = await t.call("POST", "/v1/auth/register", {
        token: null,
        body: { email: "someone@example.com", password: "a-good-password" },
      });
      assert.equal(user.status, 201);
      const now = Math.floor(Date.now() / 1000);
      const state: State = {
        ids: { a: a!.id, b: b!.id, open: open!.id },
        userId: user.body.id,
        tokens: {
          a: await signToken(SECRET, { sub: "hostile", buckets: ["a"] }),
          // Claims no SyncHub token carries (`admin: true`, an unknown role): they grant nothing.
          adminClaimed: await new SignJWT({ buckets: ["a"], admin: true, role: "root" })
            .setProtectedHeader({ alg: "HS256" }).setSubject(crypto.randomUUID())
            .setExpirationTime(now + 600).sign(new TextEncoder().encode(SECRET)),
          expired: await new SignJWT({ buckets: ["*"] }).setProtectedHeader({ alg: "HS256" })
            .setSubject("old").setExpirationTime(now - 60).sign(new TextEncoder().encode(SECRET)),
          wrongSecret: await signToken("another-secret-another-secret-another", {
            sub: "x",
            buckets: ["*"],
          }),
          none: `${btoa('{"alg":"none","typ":"JWT"}')}.${
            btoa(JSON.stringify({ sub: "x", buckets: ["*"], exp: now + 600 }))
          }.`.replaceAll("=", ""),
        },
      };
      const foreign = JSON.stringify(
        await t.db.sql(`SELECT * FROM todos WHERE bucket = 'b' ORDER BY id`),
      );
      const statuses = new Map<number, number>();
      let unsendable = 0;
      let before = await snapshot(t);
      for (let i = 0; i < ITERATIONS; i++) {
        const { method, path } = hostilePath(state);
        const headers = hostileHeaders(state);
        const body = method === "GET" || method === "HEAD" ? null : hostileBody(state, path);
        const what = `#${i} (seed ${seed}): ${method} ${path.slice(0, 200)} ${
          JSON.stringify(headers).slice(0, 300)
        } ${typeof body === "string" ? body.slice(0, 200) : String(body)}`;
        let req: Request;
        try {
          req = new Request(`http://crud${path}`, { method, headers, body: body ?? null });
        } catch {
          unsendable++; // fetch itself refuses it (a TRACE with a body, say): nothing to serve
          continue;
        }
        const res = await t.app.fetch(req);
        const text = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        assert.ok(res.status < 500, `${res.status} on ${what}: ${text.slice(0, 500)}`);
        assert.ok(!/\s+at \S+ \(?(file|ext|node):/.test(text), `a stack trace on ${what}`);
        assert.ok(!/pbkdf2|password_hash|token_hash/i.test(text), `a secret leaked on ${what}`);
        if (res.status >= 400) {
          if (method !== "HEAD") {
            assert.match(res.headers.get("content-type") ?? "", /json/, what);
            const parsed: Json = JSON.parse(text);
            assert.ok(KNOWN_CODES.has(parsed.error?.code), `code ${parsed.error?.code} on ${what}`);
            assert.equal(typeof parsed.error.message, "string");
          }
          const after = await snapshot(t);
          assert.equal(after, before, `a rejected request changed data: ${what}`);
        } else {
          if (/^\/v1\/tables\/[^/]+\/(rows|batch)/.test(path) && method !== "HEAD" && text) {
            const buckets = [...text.matchAll(/"bucket":("[^"]*"|null)/g)].map((m) => m[1]);
            assert.ok(
              buckets.every((x) => x === '"a"' || x === "null"),
              `a foreign bucket in a reply: ${what}: ${buckets}`,
            );
          }
          before = await snapshot(t);
        }
      }
      assert.equal(
        JSON.stringify(await t.db.sql(`SELECT * FROM todos WHERE bucket = 'b' ORDER BY id`)),
        foreign,
        "rows of a bucket the token does not hold are untouched",
      );
      console.log(
        "statuses:",
        JSON.stringify(Object.fromEntries([...statuses].sort())),
        `unsendable: ${unsendable}`,
      );
      // The run must have exercised rejections and acceptances both, or it proved little.
      assert.ok([...statuses.keys()].some((s) => s >= 400), "some requests were rejected");
      assert.ok([...statuses.keys()].some((s) => s < 300), "some requests were accepted");
    } finally {
      await t.close();
    }
  },
);

/** Garbage on the wire, under Deno.serve as the service runs: the server answers or hangs up, and lives. */
Deno.test("malformed HTTP on the socket does not take the service down", opts, async () => {
  const t = await api();
  const server = serve("crud", t.app.fetch, {
    host: "127.0.0.1",
    port: 0,
    portVariable: "CRUD_PORT",
    log: silentLogger,
  });
  const raw = async (bytes: string | Uint8Array) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    try {
      await conn.write(typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes)
        .catch(() => {});
      const buf = new Uint8Array(4096);
      const n = await Promise.race([
        conn.read(buf).catch(() => null),
        new Promise<null>((r) => setTimeout(() => r(null), 2000)),
      ]);
      return n ? new TextDecoder().decode(buf.subarray(0, n)) : "";
    } finally {
      conn.close();
    }
  };
  try {
    const garbage = [
      "GARBAGE\r\n\r\n",
      "GET / HTTP/9.9\r\n\r\n",
      "GET /v1/tables HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
      `GET /v1/tables HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(200_000)}\r\n\r\n`,
      "POST /v1/tables/todos/rows HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}",
      'POST /v1/tables/todos/rows HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"title"',
      "POST /v1/tables/todos/rows HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nxx\r\n0\r\n\r\n",
      "POST /v1/tables/todos/rows HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      new Uint8Array(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)),
    ];
    for (const g of garbage) {
      const reply = await raw(g);
      assert.ok(
        !/^HTTP\/1\.[01] 5\d\d/.test(reply),
        `a 5xx for ${String(g).slice(0, 80)}: ${reply}`,
      );
    }
    const health = await fetch(`${server.url}/health`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
    const rows = await fetch(`${server.url}/v1/tables/todos/rows`, {
      headers: { authorization: `Bearer ${await t.token(["a"])}` },
    });
    assert.equal(rows.status, 200);
    await rows.body?.cancel();
    assert.deepEqual(await t.db.sql("SELECT count(*)::int AS n FROM todos"), [{ n: 0 }]);
  } finally {
    await server.stop();
    await t.close();
  }
});

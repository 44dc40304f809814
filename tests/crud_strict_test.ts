/**
 * The API is exactly as strict as /openapi.json says (issue 14): 405 with Allow on every known
 * path, every error status documented, values the document allows accepted, values it forbids
 * refused in our words — never PostgreSQL's text.
 */
import assert from "node:assert/strict";
import { endpointMethods } from "../lib/http/routes.ts";
import { api, type Json } from "./support/crud.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
/** Words of PostgreSQL's own messages, which must never reach a client. */
const DATABASE_TEXT =
  /out of range:|invalid input syntax|date\/time field|value too long for type|invalid byte sequence|\bERROR\b|overflows|displacement/;

Deno.test("a known path asked with a method it does not take: 405 with Allow", opts, async () => {
  const t = await api();
  try {
    const sample: Record<string, string> = {
      table: "todos",
      id: crypto.randomUUID(),
      bucket: "b",
      file: "app.js",
    };
    const endpoints = endpointMethods(t.app);
    assert.ok(endpoints.size >= 20, `${endpoints.size} endpoints`);
    for (const [pattern, allow] of endpoints) {
      const path = pattern.replace(/:(\w+)/g, (_, name) => sample[name] ?? "x");
      const method = ["PUT", "PATCH", "DELETE", "POST", "GET"].find((m) => !allow.includes(m))!;
      const r = await t.call(method, path);
      assert.equal(r.status, 405, `${method} ${path}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, "method_not_allowed");
      assert.equal(r.headers.get("allow"), allow.join(", "), `${method} ${path}`);
    }
    // An unknown path stays a 404, whatever the method.
    assert.equal((await t.call("PUT", "/v1/nowhere")).status, 404);
  } finally {
    await t.close();
  }
});

Deno.test("every operation documents the errors it can answer", opts, async () => {
  const t = await api();
  try {
    const doc = (await t.call("GET", "/openapi.json", { token: null })).body;
    let operations = 0;
    for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
      for (const [method, op] of Object.entries(item as Record<string, Json>)) {
        operations++;
        const codes = Object.keys(op.responses);
        const has = (code: number, why: string) =>
          assert.ok(codes.includes(String(code)), `${method} ${path} lacks ${code} (${why})`);
        has(429, "every /v1 request passes a rate limit");
        has(503, "the database may be away");
        assert.equal(op.responses["429"].headers["Retry-After"].required, true);
        if (op.security) has(401, "a token is required");
        if (op.requestBody) {
          has(400, "a body may be malformed");
          has(413, "a body may be too large");
        }
        if ((op.parameters ?? []).length > 0) has(400, "a parameter may be malformed");
      }
    }
    assert.ok(operations >= 25, `${operations} operations`);
    const del = doc.paths["/v1/tables/public.todos/rows/{id}"].delete;
    assert.ok(del.responses["400"], "400 on DELETE (a bad id or If-Match)");
    assert.equal(del.parameters[0].schema.format, "uuid");
    assert.equal(
      doc.paths["/v1/admin/users/{id}/buckets/{bucket}"].delete.parameters[0].schema.format,
      "uuid",
    );
    const batch = doc.paths["/v1/tables/public.todos/batch"].post.requestBody.content[
      "application/json"
    ].schema;
    assert.deepEqual([batch.minItems, batch.maxItems], [1, 1000]);
  } finally {
    await t.close();
  }
});

Deno.test(
  "values out of a column's range are refused in our words, not the database's",
  opts,
  async () => {
    const t = await api();
    try {
      await t.db.sql(
        `CREATE TABLE kinds (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), bucket text,
      label varchar(3), amount numeric(5, 2), day date, at timestamptz, small smallint,
      span interval, doc jsonb)`,
      );
      const star = await t.token(["*"]);
      const refused: Json[] = [
        { day: "2021-02-29" },
        { day: "0000-01-01" },
        { at: "2020-01-01T10:00:00+16:00" },
        { at: "2020-13-01" },
        { amount: "1234.5" },
        { amount: 1000 },
        { label: "abcd" },
        { label: "a\u0000" },
        { small: 40000 },
        { span: "not an interval" }, // checked by the database itself
        { doc: { a: "\u0000" } },
      ];
      for (const body of refused) {
        const r = await t.call("POST", "/v1/tables/kinds/rows", { token: star, body });
        assert.equal(r.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, "validation_failed");
        assert.doesNotMatch(JSON.stringify(r.body), DATABASE_TEXT, JSON.stringify(body));
      }
      const accepted = { label: "😀😀😀", amount: "999.99", day: "2024-02-29", small: -32768 };
      const ok = await t.call("POST", "/v1/tables/kinds/rows", { token: star, body: accepted });
      assert.equal(ok.status, 201, JSON.stringify(ok.body));

      const admin = await t.token([], "root", "admin");
      const notUuid = await t.call("DELETE", "/v1/admin/users/not-a-uuid/buckets/b", {
        token: admin,
      });
      assert.equal(notUuid.status, 400);
      assert.doesNotMatch(JSON.stringify(notUuid.body), DATABASE_TEXT);
      for (const path of ["/v1/devices/x", "/v1/subscriptions/x", "/v1/checkpoints/x"]) {
        const r = await t.call(path.startsWith("/v1/subscriptions") ? "DELETE" : "GET", path);
        assert.equal(r.status, 400, path);
        assert.match(r.body.error.message, /must be a UUID/);
      }
    } finally {
      await t.close();
    }
  },
);

Deno.test("every date-time the document allows for updated_at is accepted", opts, async () => {
  const t = await api();
  try {
    const doc = (await t.call("GET", "/openapi.json", { token: null })).body;
    const clock = doc.components.schemas["public.todos.patch"].properties.updated_at;
    const pattern = new RegExp(clock.allOf.map((p: Json) => p.pattern).at(-1));
    const id = (await t.call("POST", "/v1/tables/todos/rows", { body: { title: "t" } })).body.id;
    const values = [
      "0001-01-01T00:00:00+15:00",
      "2000-02-29T23:59:59.123456789-15:59",
      "9999-12-31T23:59:59Z",
      "2024-06-01T12:00:00.5+05:30",
      "2021-02-29T00:00:00Z",
      "2020-01-01T00:00:00+16:00",
      "2020-01-01 00:00:00Z",
      "2020-01-01T24:00:00Z",
      "infinity",
    ];
    for (const updated_at of values) {
      const r = await t.call("PATCH", `/v1/tables/todos/rows/${id}`, {
        body: { updated_at },
        headers: { "if-match": "*" },
      });
      const allowed = pattern.test(updated_at);
      assert.equal(r.status === 400, !allowed, `${updated_at}: ${JSON.stringify(r.body)}`);
      assert.ok([200, 400, 409].includes(r.status), `${updated_at}: ${r.status}`);
      assert.doesNotMatch(JSON.stringify(r.body), DATABASE_TEXT);
    }
  } finally {
    await t.close();
  }
});

Deno.test("If-Match takes what its pattern says; a body's key is ignored", opts, async () => {
  const t = await api();
  try {
    const doc = (await t.call("GET", "/openapi.json", { token: null })).body;
    const param = doc.paths["/v1/tables/public.todos/rows/{id}"].put.parameters
      .find((p: Json) => p.name === "If-Match");
    const pattern = new RegExp(param.schema.pattern);
    const id = (await t.call("POST", "/v1/tables/todos/rows", { body: { title: "t" } })).body.id;
    for (const header of ["1", '"1"', 'W/"1"', "*", "999999999999999", "", "abc", '"1', "1.5"]) {
      const r = await t.call("PATCH", `/v1/tables/todos/rows/${id}`, {
        body: { title: "u" },
        headers: { "if-match": header },
      });
      assert.equal(r.status === 400, !pattern.test(header), `If-Match ${header}: ${r.status}`);
      assert.ok([200, 400, 409].includes(r.status), `If-Match ${header}: ${r.status}`);
    }
    const other = crypto.randomUUID();
    const put = await t.call("PUT", `/v1/tables/todos/rows/${id}`, {
      body: { id: other, title: "kept" },
      headers: { "if-match": "*" },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.id, id, "the path names the row");
    assert.equal(put.body.title, "kept");
    const key = doc.components.schemas["public.todos.replace"].properties.id;
    assert.equal(key.readOnly, true);
    assert.match(key.description, /ignored/);
  } finally {
    await t.close();
  }
});

Deno.test("register takes exactly the addresses its document describes", opts, async () => {
  const t = await api();
  try {
    const doc = (await t.call("GET", "/openapi.json", { token: null })).body;
    const email = doc.components.schemas.Credentials.properties.email;
    assert.equal(email.format, "email");
    const patterns = email.allOf.map((p: Json) => new RegExp(p.pattern));
    const documented = (s: string) =>
      s.length <= email.maxLength && patterns.every((p: RegExp) => p.test(s)) &&
      s.indexOf("@") <= 64;
    const addresses = [
      "ada@example.com",
      "first.last@sub.example.org",
      "x!#$%&'*+/=?^_`{|}~-y@a.io",
      "0@0.test",
      ".dot@example.com",
      "two..dots@example.com",
      "a@-host.com",
      "a@host",
      "a@host.1com",
      `${"l".repeat(65)}@example.com`,
      `${"l".repeat(64)}@example.com`,
      "spa ce@example.com",
      '"quoted"@example.com',
    ];
    for (const address of addresses) {
      const r = await t.call("POST", "/v1/auth/register", {
        token: null,
        body: { email: address, password: "long-enough-pass" },
      });
      const expected = documented(address);
      assert.equal(r.status, expected ? 201 : 400, `${address}: ${JSON.stringify(r.body)}`);
    }
  } finally {
    await t.close();
  }
});

/**
 * What the CRUD service tells clients about itself: `/openapi.json` (every route, and body schemas
 * that accept exactly what the endpoints accept), the `/docs` page, and CORS.
 */
import assert from "node:assert/strict";
import { Ajv2020 } from "ajv/dist/2020.js";
import { api, type Json } from "./support/crud.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** The app's routes as OpenAPI paths: `:table` becomes each served table, `:x` becomes `{x}`. */
function documentedForm(path: string, tables: string[]): string[] {
  const templated = path.replace(/:(\w+)/g, (_, name) => name === "table" ? ":table" : `{${name}}`);
  return templated.includes(":table")
    ? tables.map((t) => templated.replace(":table", t))
    : [templated];
}

Deno.test("/openapi.json documents every route of the app, without a token", opts, async () => {
  const t = await api();
  try {
    const doc = (await t.call("GET", "/openapi.json", { token: null })).body;
    assert.equal(doc.openapi, "3.1.0");
    const served = (await t.call("GET", "/v1/tables")).body.tables.map((x: Json) => x.table);
    assert.deepEqual(served, ["public.todos"]);
    const operational = new Set(["/", "/health", "/ready", "/metrics", "/openapi.json", "/docs"]);
    // Files, not API: the SDK bundle and the demo page (SPEC §9, services/crud/static_routes.ts).
    for (const file of ["/sdk/synchub.js", "/demo", "/demo/", "/demo/dev-token", "/demo/:file"]) {
      operational.add(file);
    }
    const routes = t.app.routes.filter((r) =>
      r.method !== "ALL" && !operational.has(r.path) && r.path !== "/*"
    );
    assert.ok(routes.length >= 15, `routes: ${routes.map((r) => r.path)}`);
    for (const route of routes) {
      for (const path of documentedForm(route.path, served)) {
        assert.ok(
          doc.paths[path]?.[route.method.toLowerCase()],
          `${route.method} ${path} is not in /openapi.json`,
        );
      }
    }
    // Every $ref resolves.
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)];
    for (const [, name] of refs) assert.ok(doc.components.schemas[name!], `dangling $ref ${name}`);
    assert.deepEqual(doc.components.schemas["public.todos.insert"].required, ["title"]);
    assert.equal(doc.components.schemas["public.todos.insert"].additionalProperties, false);
    assert.deepEqual(doc.components.schemas.Credentials.required, ["email", "password"]);

    // A column added to the table: the first write the database refuses reloads the catalog,
    // and the document shows the column with the rules the endpoint now applies.
    await t.db.sql("ALTER TABLE todos ADD COLUMN priority smallint NOT NULL");
    await new Promise((r) => setTimeout(r, 1100)); // the catalog reloads at most once a second
    const refused = await t.call("POST", "/v1/tables/todos/rows", { body: { title: "x" } });
    assert.equal(refused.status, 400);
    assert.match(refused.body.error.message, /priority/);
    const after = (await t.call("GET", "/openapi.json", { token: null })).body;
    const insert = after.components.schemas["public.todos.insert"];
    assert.deepEqual(insert.required, ["title", "priority"]);
    assert.deepEqual(insert.properties.priority, {
      type: "integer",
      minimum: -32768,
      maximum: 32767,
    });
  } finally {
    await t.close();
  }
});

Deno.test(
  "the documented body schemas accept exactly the bodies the endpoints accept",
  opts,
  async () => {
    const t = await api();
    try {
      const doc = (await t.call("GET", "/openapi.json", { token: null })).body;
      const ajv = new Ajv2020({ strict: false, validateFormats: false });
      const schemaOf = (mode: string) =>
        ajv.compile(doc.components.schemas[`public.todos.${mode}`]);
      const valid = {
        insert: schemaOf("insert"),
        replace: schemaOf("replace"),
        patch: schemaOf("patch"),
      };
      const star = await t.token(["*"]);
      const values: Record<string, unknown[]> = {
        title: ["t", "", "ü😀", 5, null, true, ["x"], {}],
        bucket: ["a", null, "", 1, ["a"]],
        done: [true, false, "true", 0, null],
        version: [1, 7, -1, 2147483647, 2147483648, 1.5, "1", null],
        updated_at: [
          "2024-01-01T00:00:00Z",
          "2020-05-06 07:08:09.123+02",
          "2020-05-06",
          "infinity",
          "yesterday",
          "2020-05-06T07:08",
          1,
          null,
        ],
        colour: ["red"],
        id: [crypto.randomUUID(), "not-a-uuid", 5],
      };
      let seed = 7;
      const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
      const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
      let agreed = 0;
      for (let i = 0; i < 150; i++) {
        const mode = pick(["insert", "replace", "patch"] as const);
        const body: Record<string, unknown> = {};
        for (const [col, pool] of Object.entries(values)) {
          // The key is the URL's for replace and patch (a different id in the body is refused).
          if (col === "id" && mode !== "insert") continue;
          if (random() < (col === "title" ? 0.8 : col === "colour" ? 0.05 : 0.3)) {
            body[col] = col === "id" ? pick([crypto.randomUUID(), "not-a-uuid", 5]) : pick(pool);
          }
        }
        const [row] = await t.db.sql(
          "INSERT INTO todos (bucket, title, updated_at) VALUES ('a', 'x', '2000-01-01') RETURNING id",
        ) as { id: string }[];
        const r = mode === "insert"
          ? await t.call("POST", "/v1/tables/todos/rows", { token: star, body })
          : await t.call(mode === "replace" ? "PUT" : "PATCH", `/v1/tables/todos/rows/${row!.id}`, {
            token: star,
            body,
          });
        const refusedAsInvalid = r.status === 400 && r.body.error.code === "validation_failed";
        const schemaSays = valid[mode](body);
        assert.equal(
          !refusedAsInvalid,
          schemaSays,
          `${mode} ${JSON.stringify(body)}: the endpoint said ${r.status} ${
            JSON.stringify(r.body)
          }, the schema ${schemaSays ? "accepts" : "rejects"} it`,
        );
        if (schemaSays) assert.ok(r.status < 300 || r.status === 409, JSON.stringify(r.body));
        agreed++;
      }
      assert.equal(agreed, 150);
      // What JSON Schema cannot say is said in words, and enforced.
      const clock = doc.components.schemas["public.todos.patch"].properties.updated_at;
      assert.match(clock.description, /ahead of the server clock is recorded as the server's time/);
      assert.equal(clock.format, "date-time");
      const future = await t.call("POST", "/v1/tables/todos/rows", {
        token: star,
        body: { title: "x", updated_at: new Date(Date.now() + 3_600_000).toISOString() },
      });
      assert.equal(future.status, 201, "a date-time the document allows is accepted");
      assert.ok(Date.parse(future.body.updated_at) <= Date.now(), "and clamped to our clock");
    } finally {
      await t.close();
    }
  },
);

Deno.test("/docs is one self-contained page listing every operation", opts, async () => {
  const t = await api();
  try {
    const res = await t.app.fetch(new Request("http://crud/docs"));
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/html/);
    const html = await res.text();
    assert.doesNotMatch(html, /<script|https?:\/\/(?!crud)/, "no scripts, no outside assets");
    for (
      const op of ["POST</code></td><td><code>/v1/auth/register", "/v1/tables/public.todos/batch"]
    ) {
      assert.ok(html.includes(op), op);
    }
  } finally {
    await t.close();
  }
});

Deno.test(
  "CORS: allowed origins get headers, on errors too; others and the default get none",
  opts,
  async () => {
    const t = await api({ corsOrigins: ["https://app.example"] });
    const plain = await api();
    try {
      const preflight = await t.app.fetch(
        new Request("http://crud/v1/tables/todos/rows/x", {
          method: "OPTIONS",
          headers: {
            origin: "https://app.example",
            "access-control-request-method": "PATCH",
            "access-control-request-headers": "authorization, if-match, content-type",
          },
        }),
      );
      assert.equal(preflight.status, 204, "a preflight needs no token");
      assert.equal(preflight.headers.get("access-control-allow-origin"), "https://app.example");
      assert.match(preflight.headers.get("access-control-allow-methods") ?? "", /PATCH/);
      const allowed = preflight.headers.get("access-control-allow-headers") ?? "";
      for (const h of ["authorization", "if-match", "content-type"]) {
        assert.match(
          allowed,
          new RegExp(h),
        );
      }

      const ok = await t.call("GET", "/v1/tables/todos/rows", {
        headers: { origin: "https://app.example" },
      });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get("access-control-allow-origin"), "https://app.example");
      assert.match(ok.headers.get("access-control-expose-headers") ?? "", /etag/i);
      const denied = await t.call("GET", "/v1/tables/todos/rows", {
        token: null,
        headers: { origin: "https://app.example" },
      });
      assert.equal(denied.status, 401);
      assert.equal(
        denied.headers.get("access-control-allow-origin"),
        "https://app.example",
        "a browser app can read the error",
      );

      const evil = await t.call("GET", "/v1/tables/todos/rows", {
        headers: { origin: "https://evil.example" },
      });
      assert.equal(evil.headers.get("access-control-allow-origin"), null);
      const none = await plain.call("GET", "/v1/tables/todos/rows", {
        headers: { origin: "https://app.example" },
      });
      assert.equal(none.headers.get("access-control-allow-origin"), null, "CORS is off by default");
    } finally {
      await t.close();
      await plain.close();
    }
  },
);

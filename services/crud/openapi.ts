/**
 * `GET /openapi.json` and `GET /docs`. The document is generated from the schemas that validate
 * requests — zod's JSON Schema of the auth bodies, and per table of the publication the same
 * insert/replace/patch schemas the rows endpoints check bodies with — so it cannot drift.
 */
import type { Hono } from "hono";
import { z } from "zod";
import type { CatalogCache, TableInfo } from "../../lib/postgres/catalog.ts";
import type { CrudEnv } from "./app.ts";
import { rowOutputSchema, schemasFor } from "./row_schema.ts";
import {
  credentialsSchema,
  errorSchema,
  grantSchema,
  refreshSchema,
  tokensSchema,
  userSchema,
} from "./schemas.ts";

type Json = Record<string, unknown>;

function jsonSchema(schema: z.ZodType): Json {
  try {
    const { $schema: _, $ref, $defs, ...rest } = z.toJSONSchema(schema, {
      unrepresentable: "any",
      io: "input",
    }) as Json;
    // A schema with a meta id comes back as a $ref into $defs: inline it.
    const named = typeof $ref === "string" ? ($defs as Json)?.[$ref.split("/").pop()!] : undefined;
    return (named as Json) ?? rest;
  } catch {
    return { description: "see the table's columns (GET /v1/tables)" };
  }
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const body = (name: string) => ({
  required: true,
  content: { "application/json": { schema: ref(name) } },
});
const reply = (description: string, name?: string) => ({
  description,
  ...(name ? { content: { "application/json": { schema: ref(name) } } } : {}),
});
const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), reply(ERROR_TEXT[c] ?? "error", "Error")]));
const ERROR_TEXT: Record<number, string> = {
  400: "bad_request, invalid_json or validation_failed (naming the column)",
  401: "unauthorized: missing, invalid or expired token",
  403: "forbidden: a bucket the token does not hold",
  404: "not_found",
  409: "conflict: the current row is in details.current",
  413: "payload_too_large",
  429: "rate_limited (see Retry-After)",
  503: "unavailable: the database is unreachable",
};

export function openApiDocument(tables: readonly TableInfo[]): Json {
  const schemas: Json = {
    Credentials: jsonSchema(credentialsSchema),
    RefreshRequest: jsonSchema(refreshSchema),
    BucketGrant: jsonSchema(grantSchema),
    Tokens: jsonSchema(tokensSchema),
    User: jsonSchema(userSchema),
    Error: jsonSchema(errorSchema),
  };
  const paths: Json = {
    "/v1/auth/register": {
      post: {
        summary: "Create an account (with a personal bucket)",
        requestBody: body("Credentials"),
        responses: { 201: reply("the account", "User"), ...errors(400, 409, 429) },
      },
    },
    "/v1/auth/login": {
      post: {
        summary: "Exchange credentials for tokens",
        requestBody: body("Credentials"),
        responses: { 200: reply("tokens", "Tokens"), ...errors(400, 401, 429) },
      },
    },
    "/v1/auth/refresh": {
      post: {
        summary: "Rotate a refresh token for new tokens",
        requestBody: body("RefreshRequest"),
        responses: { 200: reply("tokens", "Tokens"), ...errors(400, 401, 429) },
      },
    },
    "/v1/auth/logout": {
      post: {
        summary: "Revoke a refresh token and its family",
        requestBody: body("RefreshRequest"),
        responses: { 204: reply("revoked"), ...errors(400, 429) },
      },
    },
    "/v1/auth/me": {
      get: {
        summary: "The token's account",
        security: [{ bearer: [] }],
        responses: { 200: reply("the account", "User"), ...errors(401) },
      },
    },
    "/v1/admin/users/{id}/buckets": {
      post: {
        summary: "Grant a bucket (admins)",
        security: [{ bearer: [] }],
        parameters: [pathParam("id")],
        requestBody: body("BucketGrant"),
        responses: { 200: reply("the account", "User"), ...errors(400, 401, 403, 404) },
      },
    },
    "/v1/admin/users/{id}/buckets/{bucket}": {
      delete: {
        summary: "Withdraw a granted bucket (admins)",
        security: [{ bearer: [] }],
        parameters: [pathParam("id"), pathParam("bucket")],
        responses: { 200: reply("the account", "User"), ...errors(401, 403, 404) },
      },
    },
    "/v1/tables": {
      get: {
        summary: "The tables served: columns, types, primary key, bucket column",
        security: [{ bearer: [] }],
        responses: { 200: { description: "{tables: [...]}" }, ...errors(401, 503) },
      },
    },
  };
  for (const t of tables) {
    const name = t.qualified;
    const s = schemasFor(t);
    schemas[`${name}.row`] = jsonSchema(rowOutputSchema(t));
    schemas[`${name}.insert`] = jsonSchema(s.insert);
    schemas[`${name}.replace`] = jsonSchema(s.replace);
    schemas[`${name}.patch`] = jsonSchema(s.patch);
    const secured = { security: [{ bearer: [] }], tags: [name] };
    const id = pathParam(
      "id",
      t.primaryKey.length > 1
        ? `the key as a JSON array: [${t.primaryKey.join(", ")}]`
        : t.primaryKey[0],
    );
    paths[`/v1/tables/${name}/rows`] = {
      get: {
        ...secured,
        summary: `List rows of ${name} (keyset pages; filter by any column: ?column=value)`,
        parameters: [
          queryParam("limit", "1–1000, default 100"),
          queryParam("after", "the `next` of the previous page"),
        ],
        responses: {
          200: {
            description: "{rows, next}",
            content: {
              "application/json": {
                schema: {
                  type: "object",
                  properties: {
                    rows: { type: "array", items: ref(`${name}.row`) },
                    next: { type: ["string", "null"] },
                  },
                },
              },
            },
          },
          ...errors(400, 401, 429, 503),
        },
      },
      post: {
        ...secured,
        summary: `Create a row of ${name}`,
        requestBody: body(`${name}.insert`),
        responses: {
          201: reply("the row", `${name}.row`),
          ...errors(400, 401, 403, 409, 413, 429),
        },
      },
    };
    paths[`/v1/tables/${name}/rows/{id}`] = {
      get: {
        ...secured,
        parameters: [id],
        summary: "Read a row",
        responses: { 200: reply("the row", `${name}.row`), ...errors(400, 401, 404) },
      },
      put: {
        ...secured,
        parameters: [id, ifMatch],
        summary: "Replace a row",
        requestBody: body(`${name}.replace`),
        responses: { 200: reply("the row", `${name}.row`), ...errors(400, 401, 403, 404, 409) },
      },
      patch: {
        ...secured,
        parameters: [id, ifMatch],
        summary: "Change columns of a row",
        requestBody: body(`${name}.patch`),
        responses: { 200: reply("the row", `${name}.row`), ...errors(400, 401, 403, 404, 409) },
      },
      delete: {
        ...secured,
        parameters: [id, ifMatch],
        summary: "Delete a row",
        responses: { 200: reply("the deleted row", `${name}.row`), ...errors(401, 403, 404, 409) },
      },
    };
    paths[`/v1/tables/${name}/batch`] = {
      post: {
        ...secured,
        summary: "Insert, update and delete in one transaction: all or nothing",
        requestBody: {
          required: true,
          content: {
            "application/json": {
              schema: {
                type: "array",
                maxItems: 1000,
                items: {
                  type: "object",
                  required: ["op"],
                  properties: {
                    op: { enum: ["insert", "update", "delete"] },
                    id: {},
                    row: {},
                    version: { type: "integer" },
                  },
                },
              },
            },
          },
        },
        responses: {
          200: { description: "{results: [{op, row}]}" },
          ...errors(400, 401, 403, 404, 409),
        },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "SyncHub REST API",
      version: "1",
      description:
        'Rows of the sync publication, and accounts. Errors: {"error":{"code","message","details"}}.',
    },
    components: {
      schemas,
      securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
    },
    paths,
  };
}

const ifMatch = {
  name: "If-Match",
  in: "header",
  required: false,
  schema: { type: "string" },
  description: "the row version you last read; `*` for any",
};

function pathParam(name: string, description?: string) {
  return {
    name,
    in: "path",
    required: true,
    schema: { type: "string" },
    ...(description ? { description } : {}),
  };
}

function queryParam(name: string, description: string) {
  return { name, in: "query", required: false, schema: { type: "string" }, description };
}

export function mountOpenApi(app: Hono<CrudEnv>, catalog: CatalogCache): void {
  // Built once per catalog load, not per request.
  const built = new WeakMap<object, Json>();
  const document = async () => {
    const current = await catalog.get().catch(() => undefined);
    if (!current) return openApiDocument([]);
    let doc = built.get(current);
    if (!doc) built.set(current, doc = openApiDocument(current.tables));
    return doc;
  };
  app.get("/openapi.json", async (c) => c.json(await document()));
  app.get("/docs", async (c) => c.html(docsPage(await document())));
}

/** A page that lists every operation and schema of the document: no scripts, no outside assets. */
function docsPage(doc: Json): string {
  const esc = (s: string) =>
    s.replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch]!);
  const ops = Object.entries(doc.paths as Record<string, Record<string, { summary?: string }>>)
    .flatMap(([path, methods]) =>
      Object.entries(methods).map(([m, op]) =>
        `<tr><td><code>${m.toUpperCase()}</code></td><td><code>${esc(path)}</code></td><td>${
          esc(op.summary ?? "")
        }</td></tr>`
      )
    );
  const schemas = Object.entries((doc.components as Json).schemas as Json).map(([name, schema]) =>
    `<h3 id="${esc(name)}">${esc(name)}</h3><pre>${esc(JSON.stringify(schema, null, 2))}</pre>`
  );
  return `<!doctype html><html><head><meta charset="utf-8"><title>SyncHub REST API</title>
<style>body{font:15px system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}td{padding:.2rem .6rem;vertical-align:top}pre{background:#f4f4f4;padding:.6rem;overflow:auto}</style>
</head><body><h1>SyncHub REST API</h1><p>Machine-readable: <a href="/openapi.json">/openapi.json</a>. Authenticate with <code>Authorization: Bearer &lt;access_token&gt;</code>.</p>
<h2>Operations</h2><table>${ops.join("")}</table><h2>Schemas</h2>${schemas.join("")}</body></html>`;
}

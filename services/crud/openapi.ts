/**
 * `GET /openapi.json` and `GET /docs`. Each group of routes describes itself beside its routes
 * (auth/openapi.ts, rows/openapi.ts) from the same zod schemas that validate its requests, so the
 * document cannot drift; this module assembles it, once per catalog load.
 */
import type { Hono } from "hono";
import type { AccessPolicy } from "../../lib/access.ts";
import type { CatalogCache, TableInfo } from "../../lib/catalog.ts";
import { authPaths, authSchemas } from "./auth/openapi.ts";
import type { CrudEnv } from "./env.ts";
import type { Json } from "./operation.ts";
import { rowsPaths } from "./rows/openapi.ts";
import { checkpointPaths, checkpointSchemas } from "./checkpoints/openapi.ts";
import { devicePaths, deviceSchemas } from "./devices/openapi.ts";

/**
 * `tables`: the tables shown (hidden ones are not); `bucketTables`: those of them with a bucket
 * column, the ones checkpoints and bucket data may name.
 */
export function openApiDocument(
  tables: readonly TableInfo[],
  bucketTables: readonly TableInfo[] = [],
): Json {
  const schemas: Json = {};
  authSchemas(schemas);
  checkpointSchemas(bucketTables, schemas);
  deviceSchemas(tables, schemas);
  const paths: Json = { ...authPaths(), ...checkpointPaths(bucketTables), ...devicePaths() };
  rowsPaths(tables, paths, schemas);
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

export function mountOpenApi(
  app: Hono<CrudEnv>,
  catalog: CatalogCache,
  policy: AccessPolicy,
): void {
  // Built once per catalog load, not per request.
  const built = new WeakMap<object, Json>();
  const document = async () => {
    const current = await catalog.get().catch(() => undefined);
    if (!current) return openApiDocument([]);
    let doc = built.get(current);
    // The document is public: hidden tables are not in it.
    const shown = current.tables.filter((t) => !policy.rule(t).hidden);
    const withBuckets = shown.filter((t) => policy.rule(t).bucketColumn !== null);
    if (!doc) built.set(current, doc = openApiDocument(shown, withBuckets));
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

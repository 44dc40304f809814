/**
 * The CRUD service's HTTP surface (SPEC §5): JSON in and out, errors as
 * `{"error":{"code","message","details"}}`, bucket rules on every read and write.
 */
import { Hono } from "hono";
import { type BucketGrant, defaultBucket, grantOf } from "../../lib/buckets.ts";
import type { JsonValue, Row } from "../../lib/envelope.ts";
import { SyncError } from "../../lib/errors.ts";
import { mountOps, type ReadinessChecks } from "../../lib/http/ops.ts";
import { tokenFromRequest, type TokenVerifier } from "../../lib/jwt.ts";
import type { Logger } from "../../lib/log.ts";
import type { Registry } from "../../lib/metrics.ts";
import type { CatalogCache, TableInfo } from "../../lib/postgres/catalog.ts";
import { checkClientTime, checkKeyValue, parseUrlValue, validateRow } from "./row_schema.ts";
import {
  type Db,
  isVersioned,
  type RowStore,
  UPDATED_AT_COLUMN,
  VERSION_COLUMN,
} from "./row_store.ts";

export interface CrudDeps {
  store: RowStore;
  catalog: CatalogCache;
  verifyToken: TokenVerifier;
  maxBodyBytes: number;
  log: Logger;
  registry: Registry;
  checks: ReadinessChecks;
}

type Env = { Variables: { grant: BucketGrant } };

const MAX_PAGE = 1000;
const MAX_BATCH = 1000;

export function createCrudApp(deps: CrudDeps): Hono<Env> {
  const { store, catalog, log, registry } = deps;
  const app = new Hono<Env>();
  const requests = registry.counter(
    "synchub_crud_requests_total",
    "HTTP requests by route and status.",
  );
  const duration = registry.histogram(
    "synchub_crud_request_ms",
    "HTTP request duration in milliseconds.",
  );

  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    const route = c.req.routePath;
    requests.inc({ method: c.req.method, route, status: String(c.res.status) });
    duration.observe(performance.now() - started, { route });
  });
  mountOps(app as unknown as Hono, "crud", registry, deps.checks);

  app.get("/", (c) => c.json({ service: "synchub-crud", tables: "/v1/tables" }));

  app.use("/v1/*", async (c, next) => {
    const token = tokenFromRequest(c.req.raw);
    if (!token) {
      throw new SyncError("unauthorized", "a token is required: Authorization: Bearer <jwt>");
    }
    c.set("grant", grantOf((await deps.verifyToken(token)).buckets));
    await next();
  });
  const jsonBody = (req: Request) => readJson(req, deps.maxBodyBytes);

  const tableOf = async (name: string): Promise<TableInfo> => {
    const table = await catalog.table(name).catch(() => {
      throw new SyncError("unavailable", "the database is unreachable; retry later");
    });
    if (!table) throw new SyncError("not_found", `unknown table "${name}"`);
    return table;
  };

  app.get("/v1/tables", async (c) => {
    const { tables } = await catalog.get().catch(() => {
      throw new SyncError("unavailable", "the database is unreachable; retry later");
    });
    return c.json({
      tables: tables.map((t) => ({
        table: t.qualified,
        primaryKey: t.primaryKey,
        bucketColumn: t.bucketColumn,
        columns: t.columns.map((col) => ({
          name: col.name,
          type: col.typeName,
          nullable: !col.notNull,
          hasDefault: col.hasDefault,
          readOnly: col.readOnly,
        })),
      })),
    });
  });

  app.get("/v1/tables/:table/rows", async (c) => {
    const table = await tableOf(c.req.param("table"));
    const query = new URL(c.req.url).searchParams;
    const limit = query.has("limit") ? Number(query.get("limit")) : 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
      throw new SyncError("bad_request", `limit must be an integer from 1 to ${MAX_PAGE}`);
    }
    const filters: Row = {};
    for (const [key, value] of query) {
      if (key === "limit" || key === "after" || key === "token") continue;
      const col = table.column.get(key);
      if (!col) {
        throw new SyncError("validation_failed", `unknown column "${key}" of ${table.qualified}`);
      }
      filters[key] = parseUrlValue(col, value);
    }
    const after = query.has("after") ? decodePageCursor(table, query.get("after")!) : undefined;
    const { rows, next } = await store.list(table, {
      grant: c.get("grant"),
      filters,
      limit,
      after,
    });
    return c.json({ rows, next: next ? encodePageCursor(next) : null });
  });

  app.post("/v1/tables/:table/rows", async (c) => {
    const table = await tableOf(c.req.param("table"));
    const values = withDefaultBucket(
      table,
      writableRow(table, await jsonBody(c.req.raw), "insert"),
      c.get("grant"),
    );
    const row = await store.insert(table, values, { grant: c.get("grant") });
    return c.json(row, 201, etag(table, row));
  });

  app.get("/v1/tables/:table/rows/:id", async (c) => {
    const table = await tableOf(c.req.param("table"));
    const row = await store.get(table, keyFromId(table, c.req.param("id")), c.get("grant"));
    return c.json(row, 200, etag(table, row));
  });

  for (const method of ["put", "patch"] as const) {
    app[method]("/v1/tables/:table/rows/:id", async (c) => {
      const table = await tableOf(c.req.param("table"));
      const key = keyFromId(table, c.req.param("id"));
      const body = await jsonBody(c.req.raw);
      const values = writableRow(table, body, method === "put" ? "replace" : "patch");
      const row = await store.update(table, key, values, method === "put" ? "replace" : "patch", {
        grant: c.get("grant"),
        expectedVersion: expectedVersion(table, c.req.header("if-match"), values),
      });
      return c.json(row, 200, etag(table, row));
    });
  }

  app.delete("/v1/tables/:table/rows/:id", async (c) => {
    const table = await tableOf(c.req.param("table"));
    const row = await store.delete(table, keyFromId(table, c.req.param("id")), {
      grant: c.get("grant"),
      expectedVersion: expectedVersion(table, c.req.header("if-match"), {}),
    });
    return c.json(row);
  });

  app.post("/v1/tables/:table/batch", async (c) => {
    const table = await tableOf(c.req.param("table"));
    const ops = parseBatch(table, await jsonBody(c.req.raw), c.get("grant"));
    const grant = c.get("grant");
    const results = await store.transaction(async (db: Db) => {
      const out: { op: string; row: Row }[] = [];
      for (const [index, op] of ops.entries()) {
        try {
          const opts = { grant, expectedVersion: op.expectedVersion };
          const row = op.op === "insert"
            ? await store.insert(table, op.values, opts, db)
            : op.op === "update"
            ? await store.update(table, op.key, op.values, "patch", opts, db)
            : await store.delete(table, op.key, opts, db);
          out.push({ op: op.op, row });
        } catch (err) {
          throw inBatch(err, index);
        }
      }
      return out;
    });
    return c.json({ results });
  });

  app.notFound((c) => c.json(new SyncError("not_found", "no such route").toBody(), 404));
  app.onError((err, c) => {
    const e = err instanceof SyncError ? err : new SyncError("internal");
    if (e.code === "internal" || e.code === "unavailable") {
      log.error("request failed", { method: c.req.method, path: c.req.path, err });
    }
    return c.json(e.toBody(), e.status as 400);
  });
  return app;
}

type BatchOp =
  | { op: "insert"; values: Row; expectedVersion?: undefined }
  | { op: "update"; key: Row; values: Row; expectedVersion: number | undefined }
  | { op: "delete"; key: Row; expectedVersion: number | undefined };

/**
 * `[{op:"insert",row}, {op:"update",id,row}, {op:"delete",id}]`; an update or delete may name its
 * row by `id` or by the key columns in `row`, and may carry the `version` it expects.
 */
function parseBatch(table: TableInfo, body: unknown, grant: BucketGrant): BatchOp[] {
  if (!Array.isArray(body)) {
    throw new SyncError("validation_failed", "a batch is a JSON array of operations");
  }
  if (body.length === 0 || body.length > MAX_BATCH) {
    throw new SyncError("validation_failed", `a batch holds 1 to ${MAX_BATCH} operations`);
  }
  return body.map((item, index): BatchOp => {
    try {
      if (typeof item !== "object" || item === null) {
        throw new SyncError("validation_failed", "not an object");
      }
      const { op, id, row, version } = item as Record<string, unknown>;
      const keyOf = () =>
        id !== undefined
          ? keyFromId(table, typeof id === "string" ? id : JSON.stringify(id))
          : keyFromRow(table, row);
      const expected = version === undefined ? undefined : versionValue(String(version));
      switch (op) {
        case "insert":
          return { op, values: withDefaultBucket(table, writableRow(table, row, "insert"), grant) };
        case "update": {
          const values = writableRow(table, row ?? {}, "patch");
          return {
            op,
            key: keyOf(),
            values,
            expectedVersion: expected ?? rowVersion(table, values),
          };
        }
        case "delete":
          return { op, key: keyOf(), expectedVersion: expected };
        default:
          throw new SyncError("validation_failed", `op must be "insert", "update" or "delete"`);
      }
    } catch (err) {
      throw inBatch(err, index);
    }
  });
}

function inBatch(err: unknown, index: number): unknown {
  if (!(err instanceof SyncError)) return err;
  const details = typeof err.details === "object" && err.details !== null ? err.details : {};
  return new SyncError(err.code, `operation ${index}: ${err.message}`, { index, ...details });
}

/** The body as JSON, refused once it passes `maxBytes` (before reading it, when it says its size). */
async function readJson(req: Request, maxBytes: number): Promise<unknown> {
  const tooLarge = () => new SyncError("payload_too_large", `the body exceeds ${maxBytes} bytes`);
  if (Number(req.headers.get("content-length") ?? 0) > maxBytes) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req.body ?? []) {
    size += chunk.byteLength;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(concat(chunks, size));
  } catch {
    throw new SyncError("invalid_json", "the body is not valid UTF-8");
  }
  if (text.trim() === "") {
    throw new SyncError("invalid_json", "the body is empty; send a JSON object");
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new SyncError("invalid_json", "the body is not valid JSON");
  }
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** How far ahead of our clock a client's `updated_at` may be. */
const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/**
 * A body as the values to write: validated against the table's columns; the version is the
 * server's to number (from 1); a client's `updated_at` must be a plausible instant.
 */
function writableRow(table: TableInfo, body: unknown, mode: "insert" | "replace" | "patch"): Row {
  const values = validateRow(table, body, mode);
  if (mode === "insert" && isVersioned(table)) delete values[VERSION_COLUMN];
  const time = values[UPDATED_AT_COLUMN];
  if (
    time !== undefined && time !== null && table.column.get(UPDATED_AT_COLUMN)?.kind === "timestamp"
  ) {
    checkClientTime(time, MAX_CLOCK_SKEW_MS);
  }
  return values;
}

/** A new row without a bucket goes to the token's only bucket; with several it must name one. */
function withDefaultBucket(table: TableInfo, values: Row, grant: BucketGrant): Row {
  const column = table.bucketColumn;
  if (!column || values[column] !== undefined) return values;
  const bucket = defaultBucket(grant);
  if (bucket !== null) return { ...values, [column]: bucket };
  if (grant.all) return values;
  throw new SyncError(
    "validation_failed",
    `column "${column}" is required: the token holds several buckets`,
    {
      columns: [{ column, message: "required" }],
    },
  );
}

/** `:id` is the key value; for a composite key, a JSON array of the values in key order. */
function keyFromId(table: TableInfo, id: string): Row {
  const pk = table.primaryKey;
  if (pk.length === 0) throw new SyncError("bad_request", `${table.qualified} has no primary key`);
  if (pk.length === 1) return { [pk[0]!]: parseUrlValue(table.column.get(pk[0]!)!, id) };
  let values: unknown;
  try {
    values = JSON.parse(id);
  } catch { /* reported below */ }
  if (!Array.isArray(values) || values.length !== pk.length) {
    throw new SyncError(
      "bad_request",
      `the key of ${table.qualified} is a JSON array: [${pk.join(", ")}]`,
    );
  }
  return Object.fromEntries(
    pk.map((c, i) => [c, parseUrlValue(table.column.get(c)!, String(values[i]))]),
  );
}

function keyFromRow(table: TableInfo, row: unknown): Row {
  const r = (typeof row === "object" && row !== null ? row : {}) as Row;
  const missing = table.primaryKey.filter((c) => !Object.hasOwn(r, c));
  if (missing.length) {
    throw new SyncError(
      "validation_failed",
      `the operation needs "id" or key column "${missing[0]}"`,
    );
  }
  return Object.fromEntries(
    table.primaryKey.map((c) => [c, checkKeyValue(table.column.get(c)!, r[c])]),
  );
}

/** `If-Match: 3` or `If-Match: "3"`; otherwise the `version` the body carries. */
function expectedVersion(
  table: TableInfo,
  header: string | undefined,
  values: Row,
): number | undefined {
  if (!isVersioned(table)) return undefined;
  if (header !== undefined && header.trim() !== "*") { // `*`: any version will do
    return versionValue(header.replace(/^W\//, "").replace(/"/g, "").trim());
  }
  return rowVersion(table, values);
}

function rowVersion(table: TableInfo, values: Row): number | undefined {
  const v = values[VERSION_COLUMN];
  return isVersioned(table) && typeof v === "number" ? v : undefined;
}

function versionValue(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) {
    throw new SyncError(
      "bad_request",
      `If-Match must be a row version (an integer), not "${text}"`,
    );
  }
  return n;
}

function etag(table: TableInfo, row: Row): Record<string, string> {
  const v = row[VERSION_COLUMN];
  return isVersioned(table) && typeof v === "number" ? { etag: `"${v}"` } : {};
}

function encodePageCursor(values: JsonValue[]): string {
  return btoa(JSON.stringify(values)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function decodePageCursor(table: TableInfo, text: string): JsonValue[] {
  let values: unknown;
  try {
    values = JSON.parse(atob(text.replace(/-/g, "+").replace(/_/g, "/")));
  } catch { /* reported below */ }
  if (!Array.isArray(values) || values.length !== table.primaryKey.length) {
    throw new SyncError(
      "bad_request",
      "malformed `after` cursor; pass the `next` of the previous page",
    );
  }
  return table.primaryKey.map((c, i) => checkKeyValue(table.column.get(c)!, values[i]));
}

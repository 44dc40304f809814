/** The rows endpoints of SPEC §5.2 (mounted under /v1), for every table of the publication. */
import { Hono } from "hono";
import type { CatalogCache, TableInfo } from "../../../lib/catalog.ts";
import type { Row } from "../../../lib/envelope.ts";
import { SyncError } from "../../../lib/errors.ts";
import type { CrudEnv, JsonBody } from "../env.ts";
import {
  decodePageCursor,
  encodePageCursor,
  etag,
  expectedVersion,
  keyFromId,
  parseBatch,
  withDefaultBucket,
  writableRow,
} from "./row_input.ts";
import { parseUrlValue } from "./row_schema.ts";
import { inBatch, type RowStore, type WriteOp } from "./row_store.ts";

const MAX_PAGE = 1000;

export function rowsApp(deps: { store: RowStore; catalog: CatalogCache; jsonBody: JsonBody }) {
  const { store, catalog, jsonBody } = deps;
  const app = new Hono<CrudEnv>();
  const tableOf = async (name: string): Promise<TableInfo> => {
    const table = await catalog.table(name).catch(() => {
      throw new SyncError("unavailable", "the database is unreachable; retry later");
    });
    if (!table) throw new SyncError("not_found", `unknown table "${name}"`);
    return table;
  };
  /** One write, as a batch of one. */
  const writeOne = async (table: TableInfo, op: WriteOp, grant: CrudEnv["Variables"]["grant"]) =>
    (await store.write(table, [op], grant))[0]!.row;

  // A write the database refused because the table changed: reload the catalog for the next one.
  app.use("/tables/*", async (c, next) => {
    await next();
    const details = c.error instanceof SyncError ? c.error.details : undefined;
    if ((details as { schemaChanged?: boolean } | undefined)?.schemaChanged) catalog.invalidate();
  });

  app.get("/tables", async (c) => {
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

  app.get("/tables/:table/rows", async (c) => {
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

  app.post("/tables/:table/rows", async (c) => {
    const table = await tableOf(c.req.param("table"));
    const grant = c.get("grant");
    const values = withDefaultBucket(
      table,
      writableRow(table, await jsonBody(c.req.raw), "insert"),
      grant,
    );
    const row = await writeOne(table, { op: "insert", values }, grant);
    return c.json(row, 201, etag(table, row));
  });

  app.get("/tables/:table/rows/:id", async (c) => {
    const table = await tableOf(c.req.param("table"));
    const row = await store.get(table, keyFromId(table, c.req.param("id")), c.get("grant"));
    return c.json(row, 200, etag(table, row));
  });

  for (const method of ["put", "patch"] as const) {
    app[method]("/tables/:table/rows/:id", async (c) => {
      const table = await tableOf(c.req.param("table"));
      const key = keyFromId(table, c.req.param("id"));
      const mode = method === "put" ? "replace" : "patch";
      const values = writableRow(table, await jsonBody(c.req.raw), mode);
      const row = await writeOne(table, {
        op: "update",
        key,
        values,
        mode,
        expectedVersion: expectedVersion(table, c.req.header("if-match"), values),
      }, c.get("grant"));
      return c.json(row, 200, etag(table, row));
    });
  }

  app.delete("/tables/:table/rows/:id", async (c) => {
    const table = await tableOf(c.req.param("table"));
    const row = await writeOne(table, {
      op: "delete",
      key: keyFromId(table, c.req.param("id")),
      expectedVersion: expectedVersion(table, c.req.header("if-match"), {}),
    }, c.get("grant"));
    return c.json(row);
  });

  app.post("/tables/:table/batch", async (c) => {
    const table = await tableOf(c.req.param("table"));
    const grant = c.get("grant");
    const ops = parseBatch(table, await jsonBody(c.req.raw), grant);
    const results = await store.write(table, ops, grant).catch((err) => {
      throw ops.length === 1 ? inBatch(err, 0) : err; // longer batches name the index already
    });
    return c.json({ results });
  });

  return app;
}

/** The rows endpoints of SPEC §5.2, for every table of the sync publication. */
import type { Hono } from "hono";
import type { Row } from "../../lib/envelope.ts";
import { SyncError } from "../../lib/errors.ts";
import type { CatalogCache, TableInfo } from "../../lib/postgres/catalog.ts";
import type { CrudEnv } from "./app.ts";
import {
  decodePageCursor,
  encodePageCursor,
  etag,
  expectedVersion,
  inBatch,
  keyFromId,
  parseBatch,
  withDefaultBucket,
  writableRow,
} from "./row_input.ts";
import { parseUrlValue } from "./row_schema.ts";
import type { Db, RowStore } from "./row_store.ts";

const MAX_PAGE = 1000;

export function mountRows(
  app: Hono<CrudEnv>,
  deps: { store: RowStore; catalog: CatalogCache; jsonBody: (req: Request) => Promise<unknown> },
): void {
  const { store, catalog, jsonBody } = deps;
  const tableOf = async (name: string): Promise<TableInfo> => {
    const table = await catalog.table(name).catch(() => {
      throw new SyncError("unavailable", "the database is unreachable; retry later");
    });
    if (!table) throw new SyncError("not_found", `unknown table "${name}"`);
    return table;
  };

  // A write the database refused because the table changed: reload the catalog for the next one.
  app.use("/v1/tables/*", async (c, next) => {
    await next();
    const details = c.error instanceof SyncError ? c.error.details : undefined;
    if ((details as { schemaChanged?: boolean } | undefined)?.schemaChanged) catalog.invalidate();
  });

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
      await store.lock(table, ops.flatMap((op) => op.op === "insert" ? [] : [op.key]), db);
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
}

/** The rows endpoints of SPEC §5.2 (mounted under /v1), for every table of the publication. */
import { Hono } from "hono";
import {
  type AccessPolicy,
  canWriteTable,
  type Principal,
  readScope,
  tableRefusal,
} from "../../../lib/access.ts";
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
  MAX_PAGE,
  parseBatch,
  withDefaultBucket,
  writableRow,
} from "./row_input.ts";
import { parseUrlValue } from "./row_schema.ts";
import { type Access, inBatch, type RowStore, type WriteOp } from "./row_store.ts";

export interface RowsDeps {
  store: RowStore;
  catalog: CatalogCache;
  /** Who reads and writes which table and rows (SPEC §7): every route asks it. */
  policy: AccessPolicy;
  jsonBody: JsonBody;
}

export function rowsApp(deps: RowsDeps) {
  const { store, catalog, policy, jsonBody } = deps;
  const app = new Hono<CrudEnv>();
  /** The table, if the principal may `read` or `write` it; else 403 (404 where hidden). */
  const tableFor = async (
    name: string,
    principal: Principal,
    action: "read" | "write",
  ): Promise<{ table: TableInfo; access: Access }> => {
    const table = await catalog.table(name).catch(() => {
      throw new SyncError("unavailable", "the database is unreachable; retry later");
    });
    if (!table) throw new SyncError("not_found", `unknown table "${name}"`);
    const rule = policy.rule(table);
    const refusal = tableRefusal(principal, rule, table.qualified, action);
    if (refusal) throw refusal;
    return { table, access: { principal, rule } };
  };
  /** One write, as a batch of one. */
  const writeOne = async (table: TableInfo, op: WriteOp, access: Access) =>
    (await store.write(table, [op], access))[0]!.row;

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
    const principal = c.get("principal");
    // Hidden tables the token may not read are not listed: to it they do not exist.
    const listed = tables.filter((t) => {
      const rule = policy.rule(t);
      return !rule.hidden || readScope(principal, rule) !== null;
    });
    return c.json({
      tables: listed.map((t) => ({
        table: t.qualified,
        primaryKey: t.primaryKey,
        bucketColumn: policy.rule(t).bucketColumn,
        access: {
          read: readScope(principal, policy.rule(t)) !== null,
          write: canWriteTable(principal, policy.rule(t)),
        },
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
    const { table, access } = await tableFor(c.req.param("table"), c.get("principal"), "read");
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
      access,
      filters,
      limit,
      after,
    });
    return c.json({ rows, next: next ? encodePageCursor(next) : null });
  });

  app.post("/tables/:table/rows", async (c) => {
    const { table, access } = await tableFor(c.req.param("table"), c.get("principal"), "write");
    const values = withDefaultBucket(
      writableRow(table, await jsonBody(c.req.raw), "insert"),
      access,
    );
    const row = await writeOne(table, { op: "insert", values }, access);
    return c.json(row, 201, etag(table, row));
  });

  app.get("/tables/:table/rows/:id", async (c) => {
    const { table, access } = await tableFor(c.req.param("table"), c.get("principal"), "read");
    const row = await store.get(table, keyFromId(table, c.req.param("id")), access);
    return c.json(row, 200, etag(table, row));
  });

  for (const method of ["put", "patch"] as const) {
    app[method]("/tables/:table/rows/:id", async (c) => {
      const { table, access } = await tableFor(c.req.param("table"), c.get("principal"), "write");
      const key = keyFromId(table, c.req.param("id"));
      const mode = method === "put" ? "replace" : "patch";
      const values = writableRow(table, await jsonBody(c.req.raw), mode);
      const row = await writeOne(table, {
        op: "update",
        key,
        values,
        mode,
        expectedVersion: expectedVersion(table, c.req.header("if-match"), values),
      }, access);
      return c.json(row, 200, etag(table, row));
    });
  }

  app.delete("/tables/:table/rows/:id", async (c) => {
    const { table, access } = await tableFor(c.req.param("table"), c.get("principal"), "write");
    const row = await writeOne(table, {
      op: "delete",
      key: keyFromId(table, c.req.param("id")),
      expectedVersion: expectedVersion(table, c.req.header("if-match"), {}),
    }, access);
    return c.json(row);
  });

  app.post("/tables/:table/batch", async (c) => {
    const { table, access } = await tableFor(c.req.param("table"), c.get("principal"), "write");
    const ops = parseBatch(table, await jsonBody(c.req.raw), access);
    const results = await store.write(table, ops, access).catch((err) => {
      throw ops.length === 1 ? inBatch(err, 0) : err; // longer batches name the index already
    });
    return c.json({ results });
  });

  return app;
}

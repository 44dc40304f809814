/** The rows routes (rows/routes.ts) as OpenAPI paths and schemas, per table of the catalog. */
import type { TableInfo } from "../../../lib/catalog.ts";
import {
  body,
  errors,
  type Json,
  jsonSchema,
  pathParam,
  queryParam,
  ref,
  reply,
  SECURED,
} from "../operation.ts";
import { batchOperation } from "./batch_openapi.ts";
import { IF_MATCH, MAX_BATCH, MAX_PAGE } from "./row_input.ts";
import { rowOutputSchema, schemasFor, urlValueJsonSchema } from "./row_schema.ts";
import { isVersioned } from "./row_store.ts";

const ifMatch = {
  name: "If-Match",
  in: "header",
  required: false,
  schema: { type: "string", pattern: IF_MATCH.source },
  description: 'the row version you last read (`3`, `"3"` or `W/"3"`); `*` for any',
};

/** Query parameters a list takes besides its filters. */
const PAGING = new Set(["limit", "after", "token"]);

/** The `:id` of a row: its key, as parseUrlValue reads it (a JSON array for a composite key). */
export function keyParamSchema(table: TableInfo): Json {
  const pk = table.primaryKey;
  const single = pk.length === 1 ? urlValueJsonSchema(table.column.get(pk[0]!)!) : undefined;
  return single ?? {
    type: "string",
    description: pk.length > 1 ? `a JSON array: [${pk.join(", ")}]` : "the key value",
  };
}

/** Adds the paths of every table, and their row schemas, to `paths` and `components`. */
export function rowsPaths(tables: readonly TableInfo[], paths: Json, components: Json): void {
  paths["/v1/tables"] = {
    get: {
      summary: "The tables served: columns, types, primary key, bucket column",
      security: [{ bearer: [] }],
      responses: { 200: { description: "{tables: [...]}" }, ...errors(...SECURED) },
    },
  };
  for (const t of tables) {
    const name = t.qualified;
    const s = schemasFor(t);
    components[`${name}.row`] = jsonSchema(rowOutputSchema(t), components);
    components[`${name}.insert`] = jsonSchema(s.insert, components);
    components[`${name}.replace`] = jsonSchema(s.replace, components);
    components[`${name}.patch`] = jsonSchema(s.patch, components);
    const secured = { security: [{ bearer: [] }], tags: [name] };
    const key = keyParamSchema(t);
    const id = pathParam("id", key, `the key: ${t.primaryKey.join(", ")}`);
    const etag = isVersioned(t)
      ? {
        ETag: {
          description: "the row's version, for If-Match",
          schema: { type: "string", pattern: '^"[0-9]+"$' },
        },
      }
      : undefined;
    const row = (description: string) => reply(description, `${name}.row`, etag);
    paths[`/v1/tables/${name}/rows`] = {
      get: {
        ...secured,
        summary: `List rows of ${name} (keyset pages; filter by any column: ?column=value)`,
        parameters: [
          queryParam("limit", "rows per page, default 100", {
            type: "integer",
            minimum: 1,
            maximum: MAX_PAGE,
          }),
          queryParam("after", "the `next` of the previous page: the last row's key", key),
          ...filters(t),
        ],
        responses: {
          200: {
            description: "{rows, next}",
            content: {
              "application/json": {
                schema: {
                  type: "object",
                  required: ["rows", "next"],
                  properties: {
                    rows: { type: "array", items: ref(`${name}.row`) },
                    next: { type: ["string", "null"] },
                  },
                },
              },
            },
          },
          ...errors(400, 403, 404, ...SECURED),
        },
      },
      post: {
        ...secured,
        summary: `Create a row of ${name}`,
        requestBody: body(`${name}.insert`),
        responses: { 201: row("the row"), ...errors(400, 403, 404, 409, 413, ...SECURED) },
      },
    };
    const write = { 200: row("the row"), ...errors(400, 403, 404, 409, 413, ...SECURED) };
    paths[`/v1/tables/${name}/rows/{id}`] = {
      get: {
        ...secured,
        parameters: [id],
        summary: "Read a row",
        responses: { 200: row("the row"), ...errors(400, 403, 404, ...SECURED) },
      },
      put: {
        ...secured,
        parameters: [id, ifMatch],
        summary: "Replace a row",
        requestBody: body(`${name}.replace`),
        responses: write,
      },
      patch: {
        ...secured,
        parameters: [id, ifMatch],
        summary: "Change columns of a row",
        requestBody: body(`${name}.patch`),
        responses: write,
      },
      delete: {
        ...secured,
        parameters: [id, ifMatch],
        summary: "Delete a row",
        responses: {
          200: reply("the deleted row", `${name}.row`),
          ...errors(400, 403, 404, 409, ...SECURED),
        },
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
                minItems: 1,
                maxItems: MAX_BATCH,
                items: batchOperation(t, key),
              },
            },
          },
        },
        responses: {
          200: { description: "{results: [{op, row}]}" },
          ...errors(400, 403, 404, 409, 413, ...SECURED),
        },
      },
    };
  }
}

/** `?column=value` for the columns whose URL form a schema can say. */
function filters(table: TableInfo): Json[] {
  return table.columns.flatMap((col) => {
    const schema = PAGING.has(col.name) ? undefined : urlValueJsonSchema(col);
    return schema ? [queryParam(col.name, `only rows whose ${col.name} equals this`, schema)] : [];
  });
}

/** The rows routes (rows/routes.ts) as OpenAPI paths and schemas, per table of the catalog. */
import type { TableInfo } from "../../../lib/catalog.ts";
import {
  body,
  errors,
  ifMatch,
  type Json,
  jsonSchema,
  pathParam,
  queryParam,
  ref,
  reply,
} from "../operation.ts";
import { rowOutputSchema, schemasFor } from "./row_schema.ts";

/** Adds the paths of every table, and their row schemas, to `paths` and `schemas`. */
export function rowsPaths(tables: readonly TableInfo[], paths: Json, schemas: Json): void {
  paths["/v1/tables"] = {
    get: {
      summary: "The tables served: columns, types, primary key, bucket column",
      security: [{ bearer: [] }],
      responses: { 200: { description: "{tables: [...]}" }, ...errors(401, 503) },
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
}

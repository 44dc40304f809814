/**
 * A batch operation (row_input.ts parseBatch) as JSON Schema: an insert carries its row; an
 * update or delete names its row by `id` — the key as JSON values, or as in a URL — or by the key
 * columns of `row`, and may carry the `version` it expects.
 */
import { z } from "zod";
import type { TableInfo } from "../../../lib/catalog.ts";
import { inputSchema } from "../../../lib/column_schemas.ts";
import { type Json, ref } from "../operation.ts";

const version = { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER };

/** `keyParam`: the key as the path's `{id}` takes it. */
export function batchOperation(table: TableInfo, keyParam: Json): Json {
  const name = table.qualified;
  const pk = table.primaryKey;
  const typed = pk.map((c) => {
    const col = table.column.get(c)!;
    const { $schema: _, ...schema } = z.toJSONSchema(inputSchema(col.kind, col), {
      io: "input",
    }) as Json;
    return schema;
  });
  const id = pk.length === 1 ? { anyOf: [typed[0]!, keyParam] } : {
    anyOf: [
      { type: "array", prefixItems: typed, minItems: pk.length, maxItems: pk.length },
      keyParam,
    ],
  };
  const keyRow = {
    type: "object",
    required: [...pk],
    properties: Object.fromEntries(pk.map((c, i) => [c, typed[i]])),
  };
  const named = [{ required: ["id"] }, { required: ["row"], properties: { row: keyRow } }];
  return {
    oneOf: [
      {
        type: "object",
        required: ["op", "row"],
        additionalProperties: false,
        properties: { op: { const: "insert" }, row: ref(`${name}.insert`) },
      },
      {
        type: "object",
        required: ["op"],
        additionalProperties: false,
        properties: { op: { const: "update" }, id, row: ref(`${name}.patch`), version },
        anyOf: named,
      },
      {
        type: "object",
        required: ["op"],
        additionalProperties: false,
        properties: { op: { const: "delete" }, id, row: { type: "object" }, version },
        anyOf: named,
      },
    ],
  };
}

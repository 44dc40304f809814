/**
 * What a subscription filter (SPEC §4 `where`) may say about a table, as one definition: the
 * operands the ordering operators take per column kind (filter.ts checks them with these), and
 * the whole `where` of a table as JSON Schema, for the REST API's stored subscriptions.
 */
import { z } from "zod";
import type { ColumnInfo, TableInfo } from "../../lib/catalog.ts";
import { FINITE_DATE, FINITE_TIMESTAMP } from "../../lib/column_schemas.ts";
import { NO_NUL, text } from "../../lib/text_value.ts";

export const OPERATORS = ["eq", "neq", "lt", "lte", "gt", "gte", "in"] as const;
const ORDERING = ["lt", "lte", "gt", "gte"] as const;
/** Values an `in` may list. */
export const MAX_IN = 1000;
/** Decimals written as strings, short enough to stay finite as numbers. */
const DECIMAL_OPERAND = /^-?\d{1,300}(?:\.\d{1,300})?$/;

/** What `lt`, `lte`, `gt`, `gte` compare this column with; undefined when it has no order. */
export function orderOperand(col: ColumnInfo): z.ZodType | undefined {
  switch (col.kind) {
    case "integer":
    case "float":
      return z.number();
    case "bigint":
      return z.union([z.number().int(), z.string().regex(/^-?\d{1,30}$/)]);
    case "numeric":
      return z.union([z.number(), z.string().regex(DECIMAL_OPERAND)]);
    case "timestamp":
      return text({ pattern: FINITE_TIMESTAMP, expected: "an ISO-8601 timestamp" });
    case "date":
      return text({ pattern: FINITE_DATE, expected: "an ISO-8601 date" });
    case "string":
    case "uuid":
    case "enum":
    case "time":
    case "other":
      return text();
    default:
      return undefined; // booleans, JSON, arrays, bytes, intervals
  }
}

type Json = Record<string, unknown>;

/**
 * The `where` of a subscription to `table`, as JSON Schema: each column maps to a value
 * (equality) or to an operator object. `json` refers to the JSON value definition
 * (`#/components/schemas/JsonValue`), which the caller provides.
 */
export function whereJsonSchema(table: TableInfo, json: Json): Json {
  const properties: Json = {};
  for (const col of table.columns) properties[col.name] = columnCondition(col, json);
  return { type: "object", properties, additionalProperties: false };
}

function columnCondition(col: ColumnInfo, json: Json): Json {
  const noNul = { type: "string", pattern: NO_NUL.source };
  const operand = orderOperand(col);
  const ordering = operand ? z.toJSONSchema(operand, { io: "input" }) as Json : undefined;
  if (ordering) delete ordering.$schema;
  const operators = {
    type: "object",
    minProperties: 1,
    additionalProperties: false,
    properties: {
      eq: json,
      neq: json,
      in: { type: "array", maxItems: MAX_IN, items: json },
      ...(ordering ? Object.fromEntries(ORDERING.map((op) => [op, ordering])) : {}),
    },
  };
  const equality = [
    noNul,
    { type: "number" },
    { type: "boolean" },
    { type: "null" },
    { type: "array", items: json },
  ];
  if (col.kind !== "json") return { anyOf: [...equality, operators] };
  // A JSON column also equals objects: those not made of operators only.
  return {
    anyOf: [
      ...equality,
      operators,
      { type: "object", maxProperties: 0 },
      {
        type: "object",
        propertyNames: noNul,
        additionalProperties: json,
        not: { propertyNames: { enum: [...OPERATORS] } },
      },
    ],
  };
}

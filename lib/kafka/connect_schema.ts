/**
 * Kafka Connect JSON schemas (`JsonConverter` with `schemas.enable=true`) for SyncHub's envelope,
 * named and typed as Debezium names them, so Connect sinks and Debezium's transforms read our
 * topics as a Debezium connector's (SPEC §11). Row schemas come from the catalog's column types;
 * a column the catalog does not know (yet) gets a schema inferred from its JSON value.
 *
 * Where our JSON form has no Connect type, the Connect form converts the value as Debezium does:
 * JSON columns are strings (`io.debezium.data.Json`), dates are days (`io.debezium.time.Date`),
 * timestamps without a zone are microseconds (`io.debezium.time.MicroTimestamp`), 64-bit integers
 * are exact JSON integers. `row_codec.ts` converts values both ways.
 */
import type { ColumnInfo, ColumnKind, TableInfo } from "../catalog.ts";
import type { JsonValue, Row } from "../envelope.ts";

export interface ConnectSchema {
  type:
    | "struct"
    | "string"
    | "boolean"
    | "int16"
    | "int32"
    | "int64"
    | "float64"
    | "bytes"
    | "array";
  optional: boolean;
  name?: string;
  field?: string;
  fields?: ConnectSchema[];
  items?: ConnectSchema;
}

export const JSON_NAME = "io.debezium.data.Json";
export const DATE_NAME = "io.debezium.time.Date";
export const MICRO_TIMESTAMP_NAME = "io.debezium.time.MicroTimestamp";
const ZONED_TIMESTAMP_NAME = "io.debezium.time.ZonedTimestamp";
const UUID_NAME = "io.debezium.data.Uuid";

const plain = (type: ConnectSchema["type"], optional = true): ConnectSchema => ({ type, optional });

/** A column's Connect type, by its catalog kind. */
function kindSchema(kind: ColumnKind, column?: ColumnInfo): ConnectSchema {
  switch (kind) {
    case "boolean":
      return plain("boolean");
    case "integer":
      return plain(column?.intBits === 16 ? "int16" : "int32");
    case "bigint":
      return plain("int64");
    case "float":
      return plain("float64");
    case "bytea":
      return plain("bytes");
    case "json":
      return { ...plain("string"), name: JSON_NAME };
    case "uuid":
      return { ...plain("string"), name: UUID_NAME };
    case "date":
      return { ...plain("int32"), name: DATE_NAME };
    case "timestamp":
      return column?.withoutTimeZone
        ? { ...plain("int64"), name: MICRO_TIMESTAMP_NAME }
        : { ...plain("string"), name: ZONED_TIMESTAMP_NAME };
    case "array":
      return { ...plain("array"), items: kindSchema(column?.element ?? "string") };
    default: // numeric (Debezium's decimal.handling.mode=string), text, enums, time, interval
      return plain("string");
  }
}

/** The schema of a value no catalog column describes, from the value itself. */
function inferred(value: JsonValue | undefined): ConnectSchema {
  if (typeof value === "boolean") return plain("boolean");
  if (typeof value === "number") return plain(Number.isInteger(value) ? "int64" : "float64");
  if (value !== null && typeof value === "object") return { ...plain("string"), name: JSON_NAME };
  return plain("string");
}

/**
 * The struct of a row image: the columns the images hold, in catalog order, then any the catalog
 * does not list. Every field is optional (a column the source did not send reads as absent).
 * Key columns are required in a key struct unless `nullableKey` (a truncate's key of nulls).
 */
export function rowSchema(
  table: TableInfo | undefined,
  images: readonly (Row | null)[],
  name: string,
  opts: { optional: boolean; keyColumns?: readonly string[]; nullableKey?: boolean },
): ConnectSchema {
  const present = new Set<string>();
  for (const image of images) if (image) { for (const k in image) present.add(k); }
  for (const k of opts.keyColumns ?? []) present.add(k);
  const fields: ConnectSchema[] = [];
  const field = (column: string, schema: ConnectSchema) => {
    const required = opts.keyColumns?.includes(column) && !opts.nullableKey;
    fields.push({ ...schema, optional: !required, field: column });
    present.delete(column);
  };
  for (const c of table?.columns ?? []) {
    if (present.has(c.name)) field(c.name, kindSchema(c.kind, c));
  }
  for (const column of [...present]) {
    const sample = images.find((i) => i && i[column] !== undefined && i[column] !== null);
    field(column, inferred(sample?.[column]));
  }
  return { type: "struct", optional: opts.optional, name, fields };
}

/** The schemaless (MongoDB) row: one JSON string, as Debezium's MongoDB connector writes it. */
export function documentSchema(): ConnectSchema {
  return { ...plain("string"), name: JSON_NAME };
}

const str = (field: string, optional = false): ConnectSchema => ({
  ...plain("string", optional),
  field,
});
const int64 = (field: string, optional = false): ConnectSchema => ({
  ...plain("int64", optional),
  field,
});

/** Debezium's `source` block, with SyncHub's fields. */
function sourceSchema(connector: string): ConnectSchema {
  return {
    type: "struct",
    optional: false,
    name: `io.debezium.connector.${connector}.Source`,
    field: "source",
    fields: [
      str("version"),
      str("connector"),
      str("name"),
      str("db"),
      str("schema", true),
      str("table"),
      str("position"),
      str("txId", true),
      int64("ts_ms"),
      int64("ts_us"),
      int64("ts_ns"),
      str("snapshot", true),
      {
        type: "struct",
        optional: true,
        field: "origin",
        fields: [str("instance"), str("direction")],
      },
    ],
  };
}

/** The value schema of a change on `topic`: Debezium's `<topic>.Envelope`, plus our fields. */
export function envelopeSchema(
  topic: string,
  connector: string,
  row: ConnectSchema,
  key: ConnectSchema,
): ConnectSchema {
  return {
    type: "struct",
    optional: false,
    name: `${topic}.Envelope`,
    fields: [
      str("id"),
      str("op"),
      { ...row, optional: true, field: "before" },
      { ...row, optional: true, field: "after" },
      { ...key, field: "key" },
      { type: "array", optional: true, items: plain("string", false), field: "changed" },
      str("bucket", true),
      sourceSchema(connector),
      {
        type: "struct",
        optional: true,
        name: "event.block",
        field: "transaction",
        fields: [str("id"), int64("total_order"), int64("data_collection_order")],
      },
      int64("ts_ms", true),
      int64("ts_us", true),
      int64("ts_ns", true),
      {
        type: "struct",
        optional: true,
        field: "oversize",
        fields: [{
          type: "array",
          optional: false,
          items: plain("string", false),
          field: "columns",
        }, int64("bytes")],
      },
    ],
  };
}

/** The schema's fields by name (for converting a row's values). */
export function fieldsOf(schema: ConnectSchema): Map<string, ConnectSchema> {
  return new Map((schema.fields ?? []).map((f) => [f.field!, f]));
}

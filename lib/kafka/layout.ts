/**
 * How envelopes lie on Kafka table topics (SPEC §11), and back. Everything above the bus sees
 * envelope JSON or null; only this module knows the Kafka form:
 *
 * - with `envelopeSchema`, keys and values are Kafka Connect JSON `{schema, payload}` as Debezium
 *   writes them (connect_schema.ts);
 * - a delete is followed by a tombstone (same key, null value) when `tombstones` is on;
 * - a truncate is a tombstone too, keyed by the table's key columns set to null (a key no row can
 *   have, so a sink that deletes by key deletes nothing), with the truncate envelope in the
 *   `synchub-envelope` header. Flink's `debezium-json` and RisingWave reject `op:"t"`, and
 *   Debezium itself skips truncates by default (`skipped.operations=t`); every Debezium consumer
 *   takes tombstones, which Debezium writes after each delete. SyncHub's gateways read the
 *   header, so WebSocket clients still get the truncate in its place among the table's changes.
 *   The header holds the envelope JSON in base64: Kafka Connect's header converter turns a header
 *   that looks like a JSON object into a schemaless map, on which Debezium's sinks fail.
 */
import type { TableInfo } from "../catalog.ts";
import type { Envelope, Row } from "../envelope.ts";
import { envelopeJson } from "../envelope_json.ts";
import type { KafkaLayout } from "../config.ts";
import type { BusMessage } from "../bus/bus.ts";
import {
  type ConnectSchema,
  documentSchema,
  envelopeSchema,
  fieldsOf,
  rowSchema,
} from "./connect_schema.ts";
import { fromConnectRow, toConnectRow } from "./connect_values.ts";

export type { KafkaLayout };

/** The header that carries a truncate's envelope on its tombstone. */
export const ENVELOPE_HEADER = "synchub-envelope";

export const PLAIN_LAYOUT: KafkaLayout = { tombstones: true, envelopeSchema: false };

export interface KafkaOut {
  key: string;
  value: string | null;
  headers?: Record<string, string>;
}

/** The Kafka records of a bus message: one, or two for a delete followed by its tombstone. */
export function kafkaRecordsOf(m: BusMessage, layout: KafkaLayout): KafkaOut[] {
  const e = m.envelope;
  const headers = m.headers ? { ...m.headers } : undefined;
  if (!e || m.value === null) {
    return [{ key: m.key, value: m.value, ...(headers ? { headers } : {}) }];
  }
  if (e.op === "t") {
    const key: Row = {};
    for (const c of m.table?.primaryKey ?? []) key[c] = null;
    return [{
      key: layout.envelopeSchema ? connectKey(m.topic, key, m.table, true) : JSON.stringify(key),
      value: null,
      headers: { ...headers, [ENVELOPE_HEADER]: toBase64(m.value) },
    }];
  }
  const connect = layout.envelopeSchema ? connectRecord(m.topic, e, m.table) : undefined;
  const key = connect?.key ?? m.key;
  const out: KafkaOut[] = [{
    key,
    value: connect?.value ?? m.value,
    ...(headers ? { headers } : {}),
  }];
  if (e.op === "d" && layout.tombstones) out.push({ key, value: null });
  return out;
}

/** The bus value of a Kafka record: envelope JSON (a truncate's from its header), or null. */
export function busValueOf(
  value: string | null,
  header: (name: string) => string | undefined,
): string | null {
  if (value === null) {
    const envelope = header(ENVELOPE_HEADER);
    return envelope === undefined ? null : fromBase64(envelope);
  }
  return value.startsWith(CONNECT_PREFIX) ? envelopeFromConnect(value) : value;
}

/** How every Connect JSON value SyncHub writes begins (a catalog record's `schema` is a string). */
const CONNECT_PREFIX = '{"schema":{"type":"struct",';

const schemas = new Map<string, string>();

function cachedJson(id: string, schema: () => ConnectSchema): string {
  let json = schemas.get(id);
  if (json === undefined) {
    if (schemas.size > 2_000) schemas.clear();
    schemas.set(id, json = JSON.stringify(schema()));
  }
  return json;
}

function keySchemaOf(topic: string, key: Row, table: TableInfo | undefined, nullable: boolean) {
  return rowSchema(table, [key], `${topic}.Key`, {
    optional: false,
    keyColumns: Object.keys(key),
    nullableKey: nullable,
  });
}

function connectKey(topic: string, key: Row, table: TableInfo | undefined, nullable = false) {
  const schema = keySchemaOf(topic, key, table, nullable);
  const id = `k\u0000${topic}\u0000${nullable}\u0000${Object.keys(key).join("\u0000")}`;
  return `{"schema":${cachedJson(id, () => schema)},"payload":${
    JSON.stringify(toConnectRow(key, schema))
  }}`;
}

/** The `{schema, payload}` key and value of a change. */
function connectRecord(topic: string, e: Envelope, table: TableInfo | undefined) {
  const schemaless = table?.schemaless ?? false;
  const row = schemaless
    ? documentSchema()
    : rowSchema(table, [e.before, e.after], `${topic}.Value`, { optional: true });
  const key = keySchemaOf(topic, e.key, table, false);
  const columns = (r: ConnectSchema) => (r.fields ?? []).map((f) => f.field).join("\u0000");
  const id = `v\u0000${topic}\u0000${e.source.connector}\u0000${columns(row)}\u0001${columns(key)}`;
  const schema = cachedJson(id, () => envelopeSchema(topic, e.source.connector, row, key));
  const connectKeyRow = toConnectRow(e.key, key) as Row;
  const payload = envelopeJson({
    ...e,
    before: e.before && toConnectRow(e.before, row) as Row,
    after: e.after && toConnectRow(e.after, row) as Row,
    key: connectKeyRow,
  }, JSON.stringify(connectKeyRow));
  return {
    key: connectKey(topic, e.key, table),
    value: `{"schema":${schema},"payload":${payload}}`,
  };
}

/** Integers beyond 2^53 read as their exact digits (SPEC §2: such integers are strings). */
function exactIntegers(_key: string, value: unknown, context?: { source?: string }): unknown {
  return typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value)
    ? context?.source ?? value
    : value;
}

/** The envelope JSON of a Connect JSON value that SyncHub wrote. */
export function envelopeFromConnect(text: string): string | null {
  const { schema, payload } = JSON.parse(text, exactIntegers as never) as {
    schema: ConnectSchema;
    payload: Envelope | null;
  };
  if (payload === null) return null;
  const fields = fieldsOf(schema);
  const row = fields.get("after"), key = fields.get("key");
  const e: Envelope = {
    ...payload,
    before: payload.before && row ? fromConnectRow(payload.before, row) : payload.before,
    after: payload.after && row ? fromConnectRow(payload.after, row) : payload.after,
    key: key ? fromConnectRow(payload.key, key) : payload.key,
  };
  return envelopeJson(e);
}

function toBase64(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): string {
  return new TextDecoder().decode(Uint8Array.from(atob(text), (c) => c.charCodeAt(0)));
}

import assert from "node:assert/strict";
import { envelopeJson } from "../envelope_json.ts";
import type { Envelope } from "../envelope.ts";
import { sampleEnvelope } from "../../tests/support/envelopes.ts";
import { tableInfo } from "../../tests/support/tables.ts";
import type { ConnectSchema } from "./connect_schema.ts";
import { busValueOf, ENVELOPE_HEADER, kafkaRecordsOf } from "./layout.ts";

const topic = "synchub.pg.public.things";
const table = tableInfo("public.things", {
  id: "bigint",
  doc: "json",
  day: "date",
  at: "timestamp",
  uid: "uuid",
  price: "numeric",
  tags: "array",
});
const typed = {
  ...table,
  columns: table.columns.map((c) => c.name === "at" ? { ...c, withoutTimeZone: true } : c),
};
const row = {
  id: "9007199254740993",
  doc: { a: [1, { b: null }] },
  day: "2024-02-29",
  at: "2024-01-02T03:04:05.12",
  uid: "6f1c2a4e-0000-4000-8000-000000000001",
  price: "12.50",
  tags: ["x"],
};
const change = (over: Partial<Envelope>) =>
  sampleEnvelope({ after: row, key: { id: row.id }, bucket: null, ...over });
const message = (e: Envelope) => ({
  topic,
  key: JSON.stringify(e.key),
  value: envelopeJson(e),
  envelope: e,
  table: { ...typed, column: new Map(typed.columns.map((c) => [c.name, c])) },
});
const decode = (value: string | null, headers: Record<string, string> = {}) =>
  busValueOf(value, (h) => headers[h]);

Deno.test("Connect JSON: Debezium's names, a schema for every payload field, the envelope back exactly", () => {
  const e = change({});
  const [record, ...rest] = kafkaRecordsOf(message(e), { tombstones: true, envelopeSchema: true });
  assert.equal(rest.length, 0);
  const value = JSON.parse(record!.value!) as {
    schema: ConnectSchema;
    payload: Record<string, unknown>;
  };
  assert.equal(value.schema.name, `${topic}.Envelope`);
  const fields = new Map(value.schema.fields!.map((f) => [f.field, f]));
  assert.deepEqual(
    Object.keys(value.payload).sort(),
    [...fields.keys()].filter((f) => f !== "oversize").sort(),
  );
  const after = fields.get("after")!;
  assert.equal(after.optional, true);
  assert.equal(after.name, `${topic}.Value`);
  assert.deepEqual(after.fields!.map((f) => f.field), Object.keys(row));
  const types = Object.fromEntries(after.fields!.map((f) => [f.field, [f.type, f.name ?? null]]));
  assert.deepEqual(types.doc, ["string", "io.debezium.data.Json"]);
  assert.deepEqual(types.day, ["int32", "io.debezium.time.Date"]);
  assert.deepEqual(types.at, ["int64", "io.debezium.time.MicroTimestamp"]);
  assert.deepEqual(types.id, ["int64", null]);
  // Exact integers in the JSON text, beyond 2^53 too.
  assert.match(record!.value!, /"after":\{"id":9007199254740993,"doc":"\{\\"a\\"/);
  assert.match(record!.value!, /"ts_ns":1700000000001456000\}\}$/);
  const p = value.payload as { after: Record<string, unknown> };
  assert.equal(p.after.day, 19782);
  assert.equal(p.after.at, 1704164645120000);
  // The key: a struct of the key columns, required.
  const key = JSON.parse(record!.key) as { schema: ConnectSchema; payload: unknown };
  assert.equal(key.schema.name, `${topic}.Key`);
  assert.deepEqual(key.schema.fields!.map((f) => [f.field, f.type, f.optional]), [[
    "id",
    "int64",
    false,
  ]]);
  assert.match(record!.key, /"payload":\{"id":9007199254740993\}\}$/);
  // A SyncHub reader gets the very envelope JSON the listener built.
  assert.equal(decode(record!.value), envelopeJson(e));
});

Deno.test("a delete is followed by a tombstone with its key unless tombstones are off", () => {
  const e = change({ op: "d", before: { id: row.id }, after: null });
  for (const envelopeSchema of [false, true]) {
    const records = kafkaRecordsOf(message(e), { tombstones: true, envelopeSchema });
    assert.equal(records.length, 2);
    assert.equal(records[1]!.value, null);
    assert.equal(records[1]!.key, records[0]!.key);
    assert.equal(decode(records[1]!.value), null);
    assert.equal(decode(records[0]!.value), envelopeJson(e));
  }
  assert.equal(kafkaRecordsOf(message(e), { tombstones: false, envelopeSchema: false }).length, 1);
});

Deno.test("a truncate is a tombstone no row's key matches, carrying its envelope in a header", () => {
  const e = change({ op: "t", before: null, after: null, key: {}, changed: null });
  const plain = kafkaRecordsOf(message(e), { tombstones: false, envelopeSchema: false });
  assert.equal(plain.length, 1);
  assert.equal(plain[0]!.value, null);
  assert.equal(plain[0]!.key, '{"id":null}');
  assert.equal(decode(plain[0]!.value, plain[0]!.headers), envelopeJson(e));
  const [connect] = kafkaRecordsOf(message(e), { tombstones: true, envelopeSchema: true });
  const key = JSON.parse(connect!.key) as { schema: ConnectSchema; payload: unknown };
  assert.deepEqual(key.payload, { id: null });
  assert.deepEqual(key.schema.fields!.map((f) => [f.field, f.optional]), [["id", true]]);
  // Base64: Kafka Connect reads a header that looks like a JSON object as a map, which Debezium's
  // sinks cannot take.
  assert.match(connect!.headers![ENVELOPE_HEADER]!, /^[A-Za-z0-9+/]+=*$/);
  assert.equal(decode(null, connect!.headers), envelopeJson(e));
});

Deno.test("messages that are not envelopes pass through untouched", () => {
  const m = { topic: "synchub._catalog", key: "k", value: '{"a":1}' };
  assert.deepEqual(kafkaRecordsOf(m, { tombstones: true, envelopeSchema: true }), [{
    key: "k",
    value: '{"a":1}',
  }]);
  assert.equal(decode('{"a":1}'), '{"a":1}');
  const catalogRecord = '{"schema":"public","name":"todos"}';
  assert.equal(decode(catalogRecord), catalogRecord);
});

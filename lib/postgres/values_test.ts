import assert from "node:assert/strict";
import { OID, textDecoderFor } from "./values.ts";

const d = (oid: number, text: string) => textDecoderFor(oid)(text);

Deno.test("numbers: small integers as numbers, big ones and numerics as strings", () => {
  assert.equal(d(OID.int4, "-42"), -42);
  assert.equal(d(OID.int8, "9007199254740991"), 9007199254740991);
  assert.equal(d(OID.int8, "9007199254740993"), "9007199254740993");
  assert.equal(d(OID.int8, "-9223372036854775808"), "-9223372036854775808");
  assert.equal(d(OID.numeric, "12345678901234567890.000000001"), "12345678901234567890.000000001");
  assert.equal(d(OID.float8, "1.5"), 1.5);
  assert.equal(d(OID.float8, "NaN"), "NaN");
  assert.equal(d(OID.float4, "-Infinity"), "-Infinity");
});

Deno.test("timestamps become ISO-8601 with their full precision", () => {
  assert.equal(d(OID.timestamptz, "2024-01-02 03:04:05.123456+00"), "2024-01-02T03:04:05.123456Z");
  assert.equal(d(OID.timestamptz, "2024-01-02 03:04:05+05:30"), "2024-01-02T03:04:05+05:30");
  assert.equal(d(OID.timestamptz, "2024-01-02 03:04:05-08"), "2024-01-02T03:04:05-08:00");
  assert.equal(d(OID.timestamp, "2024-01-02 03:04:05.5"), "2024-01-02T03:04:05.5");
  assert.equal(d(OID.timestamptz, "infinity"), "infinity");
  assert.equal(d(OID.date, "2024-01-02"), "2024-01-02");
});

Deno.test("bytea becomes base64, json becomes JSON, booleans booleans", () => {
  assert.equal(d(OID.bytea, "\\x00ff10"), "AP8Q");
  assert.equal(d(OID.bytea, "\\x"), "");
  assert.deepEqual(d(OID.jsonb, '{"a":[1,{"b":null}]}'), { a: [1, { b: null }] });
  assert.equal(d(OID.json, "12"), 12);
  assert.equal(d(OID.bool, "t"), true);
  assert.equal(d(OID.bool, "f"), false);
  assert.equal(
    d(OID.uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
  );
});

Deno.test("arrays decode element by element, nulls and nesting included", () => {
  assert.deepEqual(d(1007, "{1,2,NULL}"), [1, 2, null]);
  assert.deepEqual(d(1009, '{a,"b c","d\\"e"}'), ["a", "b c", 'd"e']);
  assert.deepEqual(d(1016, "{{1,99999999999999999}}"), [[1, "99999999999999999"]]);
  assert.deepEqual(d(3807, '{"{\\"a\\": 1}"}'), [{ a: 1 }]);
  assert.deepEqual(textDecoderFor(99999, OID.int4)("{7}"), [7]);
});

Deno.test("unknown types stay text", () => {
  assert.equal(d(424242, "happy"), "happy");
  assert.equal(d(OID.interval, "P1DT2H"), "P1DT2H");
});

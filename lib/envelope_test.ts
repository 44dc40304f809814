import assert from "node:assert/strict";
import { envelopeSchema, qualifiedTable, rowOf } from "./envelope.ts";
import { sampleEnvelope } from "../tests/support/envelopes.ts";

Deno.test("envelope schema accepts a well-formed create", () => {
  assert.deepEqual(envelopeSchema.parse(sampleEnvelope()), sampleEnvelope());
});

Deno.test("envelope schema ties op to the row images", () => {
  const bad = [
    sampleEnvelope({ op: "c", after: null }),
    sampleEnvelope({ op: "d", after: { id: "a" } }),
    sampleEnvelope({ op: "t", after: null, key: { id: "a" } }),
    sampleEnvelope({ op: "c", changed: ["title"] }),
  ];
  for (const e of bad) assert.equal(envelopeSchema.safeParse(e).success, false, JSON.stringify(e));
  const del = sampleEnvelope({ op: "d", before: { id: "a" }, after: null });
  assert.equal(envelopeSchema.safeParse(del).success, true);
});

Deno.test("envelope schema rejects unknown connectors and missing fields", () => {
  const e = sampleEnvelope();
  assert.equal(
    envelopeSchema.safeParse({ ...e, source: { ...e.source, connector: "oracle" } }).success,
    false,
  );
  const { id: _id, ...noId } = e;
  assert.equal(envelopeSchema.safeParse(noId).success, false);
});

Deno.test("qualifiedTable and rowOf", () => {
  assert.equal(qualifiedTable({ schema: "public", db: "x", table: "t" }), "public.t");
  assert.equal(qualifiedTable({ schema: null, db: "shop", table: "orders" }), "shop.orders");
  assert.deepEqual(rowOf({ op: "d", before: { id: 1 }, after: null }), { id: 1 });
  assert.deepEqual(rowOf({ op: "u", before: { id: 1 }, after: { id: 2 } }), { id: 2 });
});

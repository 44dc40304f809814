/**
 * Decoding on change events built from MongoDB's documented shapes
 * (https://www.mongodb.com/docs/manual/reference/change-events/), with real BSON values.
 */
import assert from "node:assert/strict";
import { Binary, Decimal128, Long, ObjectId, Timestamp, UUID } from "mongodb";
import { envelopeSchema } from "../../../lib/envelope.ts";
import { bsonValue, ChangeStreamEnded, toEnvelope } from "./decode.ts";

const ctx = { sourceName: "mongo", bucketColumn: () => "bucket", now: () => 1_700_000_000_999 };
const oid = new ObjectId("64b7f1f2a1b2c3d4e5f60718");
const clusterTime = new Timestamp({ t: 1_700_000_000, i: 3 });
const base = {
  _id: { _data: "8264B7F1F2000000032B022C0100296E5A1004" },
  clusterTime,
  wallTime: new Date("2023-11-14T22:13:20.000Z"),
  ns: { db: "app", coll: "todos" },
  documentKey: { _id: oid },
};

Deno.test("insert: op c with the full document, ObjectId as hex", () => {
  const e = toEnvelope(
    {
      ...base,
      operationType: "insert",
      fullDocument: {
        _id: oid,
        bucket: "a",
        title: "milk",
        n: new Long(7),
        price: Decimal128.fromString("1.50"),
      },
    },
    0,
    ctx,
  )!;
  envelopeSchema.parse(e);
  assert.equal(e.op, "c");
  assert.deepEqual(e.key, { _id: "64b7f1f2a1b2c3d4e5f60718" });
  assert.deepEqual(e.after, {
    _id: "64b7f1f2a1b2c3d4e5f60718",
    bucket: "a",
    title: "milk",
    n: 7,
    price: "1.50",
  });
  assert.equal(e.bucket, "a");
  assert.equal(e.id, "mongo:8264B7F1F2000000032B022C0100296E5A1004");
  assert.deepEqual(
    [e.source.connector, e.source.db, e.source.schema, e.source.table, e.source.ts_ms],
    ["mongodb", "app", null, "todos", 1_700_000_000_000],
  );
  assert.equal(e.source.position, "1700000000:0000000003:000000");
});

Deno.test("update: changed from updateDescription (top-level fields), after from the looked-up document", () => {
  const e = toEnvelope(
    {
      ...base,
      operationType: "update",
      updateDescription: {
        updatedFields: { title: "oat milk", "meta.tags.0": "x" },
        removedFields: ["old"],
      },
      fullDocument: { _id: oid, bucket: "a", title: "oat milk", meta: { tags: ["x"] } },
      fullDocumentBeforeChange: {
        _id: oid,
        bucket: "a",
        title: "milk",
        meta: { tags: [] },
        old: 1,
      },
    },
    0,
    ctx,
  )!;
  envelopeSchema.parse(e);
  assert.equal(e.op, "u");
  assert.deepEqual(e.changed, ["title", "meta", "old"]);
  assert.equal(e.before!.title, "milk");
  assert.equal(e.after!.title, "oat milk");
});

Deno.test("update without pre-images has no before; a vanished document keeps the event's own fields", () => {
  const e = toEnvelope(
    {
      ...base,
      operationType: "update",
      updateDescription: { updatedFields: { done: true, "a.b": 1 }, removedFields: [] },
      fullDocument: null,
    },
    1,
    ctx,
  )!;
  envelopeSchema.parse(e);
  assert.equal(e.before, null);
  assert.deepEqual(e.after, { _id: "64b7f1f2a1b2c3d4e5f60718", done: true });
  assert.deepEqual(e.changed, ["done", "a"]);
});

Deno.test("replace diffs the pre-image when there is one; delete carries it as before", () => {
  const replaced = toEnvelope(
    {
      ...base,
      operationType: "replace",
      fullDocument: { _id: oid, title: "b", n: 1 },
      fullDocumentBeforeChange: { _id: oid, title: "a", n: 1 },
    },
    0,
    ctx,
  )!;
  assert.deepEqual(replaced.changed, ["title"]);
  const noPre = toEnvelope(
    { ...base, operationType: "replace", fullDocument: { _id: oid } },
    0,
    ctx,
  )!;
  assert.equal(noPre.changed, null);
  const deleted = toEnvelope(
    {
      ...base,
      operationType: "delete",
      fullDocumentBeforeChange: { _id: oid, bucket: "b" },
    },
    0,
    ctx,
  )!;
  envelopeSchema.parse(deleted);
  assert.deepEqual([deleted.op, deleted.after, deleted.bucket], ["d", null, "b"]);
  const bare = toEnvelope({ ...base, operationType: "delete" }, 0, ctx)!;
  const id = { _id: "64b7f1f2a1b2c3d4e5f60718" };
  assert.deepEqual([bare.before, bare.bucket, bare.key], [id, null, id]);
});

Deno.test("drop is a truncate; invalidate ends the stream with a clear error; others are skipped", () => {
  const drop = toEnvelope(
    { _id: base._id, operationType: "drop", clusterTime, ns: { db: "app", coll: "todos" } },
    0,
    ctx,
  )!;
  envelopeSchema.parse(drop);
  assert.deepEqual([drop.op, drop.key, drop.after], ["t", {}, null]);
  assert.throws(
    () => toEnvelope({ _id: base._id, operationType: "invalidate", clusterTime }, 0, ctx),
    ChangeStreamEnded,
  );
  assert.equal(
    toEnvelope(
      {
        _id: base._id,
        operationType: "createIndexes",
        clusterTime,
        ns: { db: "app", coll: "todos" },
      },
      0,
      ctx,
    ),
    undefined,
  );
});

Deno.test("transactions carry lsid and txnNumber as the transaction id, ordered by index", () => {
  const lsid = { id: new Binary(new Uint8Array(16).fill(1), 4) };
  const events = [0, 1].map((i) =>
    toEnvelope(
      {
        ...base,
        operationType: "insert",
        fullDocument: { _id: i },
        documentKey: { _id: i },
        txnNumber: new Long(5),
        lsid,
      },
      i,
      ctx,
    )!
  );
  assert.equal(events[0]!.source.txId, "01010101010101010101010101010101:5");
  assert.deepEqual(events.map((e) => e.transaction!.total_order), [1, 2]);
  assert.ok(events[0]!.source.position < events[1]!.source.position);
});

Deno.test("BSON values map to JSON per SPEC §2", () => {
  assert.equal(bsonValue(oid), "64b7f1f2a1b2c3d4e5f60718");
  assert.equal(bsonValue(new Date("2024-01-02T03:04:05.123Z")), "2024-01-02T03:04:05.123Z");
  assert.equal(bsonValue(Long.fromString("9223372036854775807")), "9223372036854775807");
  assert.equal(
    bsonValue(Decimal128.fromString("12345678901234567890.5")),
    "12345678901234567890.5",
  );
  assert.equal(bsonValue(new Binary(new Uint8Array([0, 255, 16]))), "AP8Q");
  assert.equal(
    bsonValue(new UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")),
    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
  );
  assert.deepEqual(bsonValue({ a: [oid, { b: new Long(2) }] }), {
    a: ["64b7f1f2a1b2c3d4e5f60718", { b: 2 }],
  });
  assert.equal(bsonValue(new Timestamp({ t: 5, i: 6 })), "5:6");
});

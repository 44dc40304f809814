import assert from "node:assert/strict";
import type { Pgoutput } from "pg-logical-replication";
import { envelopeSchema } from "../../../lib/envelope.ts";
import { OID } from "../../../lib/postgres/values.ts";
import {
  adoptValueMapping,
  type EnvelopeContext,
  toEnvelopes,
  TransactionDecoder,
} from "./decode.ts";

function relation(
  oid: number,
  name: string,
  identity: Pgoutput.MessageRelation["replicaIdentity"] = "full",
) {
  const columns = [
    { name: "id", typeOid: OID.int8 },
    { name: "bucket", typeOid: OID.text },
    { name: "body", typeOid: OID.text },
    { name: "n", typeOid: OID.int4 },
  ].map((c) => ({
    ...c,
    flags: 1,
    typeMod: -1,
    typeSchema: null,
    typeName: null,
    parser: (v: unknown) => v,
  }));
  const r: Pgoutput.MessageRelation = {
    tag: "relation",
    relationOid: oid,
    schema: "public",
    name,
    replicaIdentity: identity,
    columns,
    keyColumns: identity === "full" ? columns.map((c) => c.name) : ["id"],
  };
  return r;
}

const ctx: EnvelopeContext = {
  sourceName: "pg",
  db: "app",
  bucketColumn: () => "bucket",
  keyColumns: () => ["id"],
  now: () => 1_700_000_000_500,
};

const begin = (xid: number): Pgoutput.MessageBegin => ({
  tag: "begin",
  commitLsn: "00000000/0A000000",
  commitTime: 1_700_000_000_123_456n,
  xid,
});
const commit: Pgoutput.MessageCommit = {
  tag: "commit",
  flags: 0,
  commitLsn: "00000000/0A000000",
  commitEndLsn: "00000000/0A000050",
  commitTime: 1_700_000_000_123_456n,
};

/** A small transaction: one part, its last, with the commit's end. */
function assemble(messages: Pgoutput.Message[]) {
  const a = new TransactionDecoder();
  const done = messages.map((m) => a.push(m)).filter((t) => t !== null);
  assert.equal(done.length, 1);
  assert.equal(a.idle, true);
  return done[0]!;
}

Deno.test("a transaction of insert, update and delete becomes ordered envelopes", () => {
  const todos = relation(1, "todos");
  const notes = relation(2, "notes");
  const tx = assemble([
    begin(-5), // xids above 2^31 arrive negative from the parser
    { tag: "insert", relation: todos, new: { id: 1, bucket: "a", body: "x", n: 1 } },
    { tag: "insert", relation: notes, new: { id: 7, bucket: null, body: "y", n: 0 } },
    {
      tag: "update",
      relation: todos,
      key: null,
      old: { id: 1, bucket: "a", body: "x", n: 1 },
      new: { id: 1, bucket: "a", body: "x", n: 2 },
    },
    { tag: "delete", relation: todos, key: null, old: { id: 1, bucket: "a", body: "x", n: 2 } },
    commit,
  ]);
  assert.equal(tx.endLsn, 0x0A000050n);
  const envs = toEnvelopes(tx, ctx);
  for (const e of envs) envelopeSchema.parse(e);
  assert.deepEqual(envs.map((e) => e.op), ["c", "c", "u", "d"]);
  const [c, , u, d] = envs;
  assert.equal(c!.id, "pg:000000000A000000:0000000001");
  assert.deepEqual(c!.key, { id: 1 });
  assert.equal(c!.bucket, "a");
  assert.equal(envs[1]!.bucket, null);
  assert.deepEqual(u!.changed, ["n"]);
  assert.deepEqual(u!.before, { id: 1, bucket: "a", body: "x", n: 1 });
  assert.deepEqual(d!.before, { id: 1, bucket: "a", body: "x", n: 2 });
  assert.equal(d!.after, null);
  assert.equal(d!.bucket, "a");
  assert.equal(c!.source.txId, String(2 ** 32 - 5));
  assert.equal(c!.source.ts_ms, 1_700_000_000_123);
  assert.deepEqual(envs.map((e) => e.transaction?.total_order), [1, 2, 3, 4]);
  assert.deepEqual(envs.map((e) => e.transaction?.data_collection_order), [1, 1, 2, 3]);
  const positions = envs.map((e) => e.source.position);
  assert.deepEqual([...positions].sort(), positions);
});

Deno.test("an unchanged TOAST value the server did not send is left out, not faked", () => {
  const t = relation(1, "docs", "default");
  const tx = assemble([
    begin(10),
    // The parser leaves `undefined` for an unchanged TOAST column when there is no old tuple.
    {
      tag: "update",
      relation: t,
      key: null,
      old: null,
      new: { id: 1, bucket: "a", body: undefined, n: 3 },
    },
    commit,
  ]);
  const [u] = toEnvelopes(tx, ctx);
  assert.deepEqual(u!.after, { id: 1, bucket: "a", n: 3 });
  assert.equal(Object.hasOwn(u!.after!, "body"), false);
  assert.equal(u!.before, null);
  assert.equal(u!.changed, null, "without a before image no column can be called changed");
});

Deno.test("a delete under REPLICA IDENTITY DEFAULT keys on the key tuple, its before the key", () => {
  const t = relation(1, "docs", "default");
  const tx = assemble([
    begin(11),
    // The server sends the non-key columns of a key tuple as nulls.
    { tag: "delete", relation: t, key: { id: 9, bucket: null, body: null, n: null }, old: null },
    commit,
  ]);
  const [d] = toEnvelopes(tx, ctx);
  assert.deepEqual(d!.key, { id: 9 });
  assert.deepEqual(d!.before, { id: 9 }, "before holds the key columns (SPEC §11)");
  assert.equal(d!.bucket, null);
});

Deno.test("truncate of several tables gives one envelope per table with an empty key", () => {
  const a = relation(1, "a");
  const b = relation(2, "b");
  const tx = assemble([
    begin(12),
    { tag: "truncate", cascade: false, restartIdentity: false, relations: [a, b] },
    commit,
  ]);
  const envs = toEnvelopes(tx, ctx);
  assert.deepEqual(envs.map((e) => [e.op, e.source.table, e.key, e.before, e.after]), [
    ["t", "a", {}, null, null],
    ["t", "b", {}, null, null],
  ]);
  for (const e of envs) envelopeSchema.parse(e);
});

Deno.test("relation messages switch column parsing to the SPEC value mapping", () => {
  const r = relation(1, "t");
  adoptValueMapping(r);
  assert.equal(r.columns[0]!.parser("12345678901234567890"), "12345678901234567890");
  assert.equal(r.columns[3]!.parser("5"), 5);
});

Deno.test("messages outside a transaction are refused; origin and type messages are ignored", () => {
  const a = new TransactionDecoder();
  assert.throws(() => a.push({ tag: "insert", relation: relation(1, "t"), new: { id: 1 } }));
  assert.equal(a.push({ tag: "origin", originLsn: null, originName: "x" }), null);
  assert.throws(() => a.push(commit));
});

Deno.test("a large transaction leaves in parts as it is decoded; only its last part has the end", () => {
  const todos = relation(1, "todos");
  const notes = relation(2, "notes");
  const d = new TransactionDecoder(3);
  const parts = [];
  assert.equal(d.push(begin(9)), null);
  for (let i = 1; i <= 7; i++) {
    const part = d.push({
      tag: "insert",
      relation: i % 2 ? todos : notes,
      new: { id: i, bucket: "a", body: "x", n: i },
    });
    if (part) parts.push(part);
    assert.equal(d.idle, false, "in a transaction until its commit");
  }
  assert.deepEqual(parts.map((p) => [p.changes.length, p.endLsn]), [[3, null], [3, null]]);
  const last = d.push(commit)!;
  assert.deepEqual([last.changes.length, last.endLsn], [1, 0x0A000050n]);
  assert.equal(d.idle, true);
  const envs = [...parts, last].flatMap((p) => toEnvelopes(p, ctx));
  assert.deepEqual(envs.map((e) => e.transaction?.total_order), [1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(
    envs.map((e) => e.transaction?.data_collection_order),
    [1, 1, 2, 2, 3, 3, 4],
    "per table, across parts",
  );
  const positions = envs.map((e) => e.source.position);
  assert.deepEqual([...positions].sort(), positions);
  assert.equal(new Set(envs.map((e) => e.id)).size, 7);
});

Deno.test("a transaction the sync service wrote is tagged with its origin; its marker is not sent", () => {
  const marker = relation(3, "synchub_sync_marker");
  const todos = relation(1, "todos");
  const tx = assemble([
    begin(11),
    {
      tag: "update",
      relation: marker,
      key: null,
      old: null,
      new: { instance: "sync-a", direction: "cloud_to_local", slot: 0, txn: 5 },
    },
    { tag: "insert", relation: todos, new: { id: 1, bucket: "a", body: "x", n: 1 } },
    commit,
  ]);
  const envs = toEnvelopes(tx, ctx);
  assert.deepEqual(envs.map((e) => e.source.table), ["todos"]);
  assert.deepEqual(envs[0]!.source.origin, { instance: "sync-a", direction: "cloud_to_local" });
  assert.equal(envs[0]!.transaction?.total_order, 2, "its place in the transaction, marker first");
  envelopeSchema.parse(envs[0]);
  // A marker row that is not the first change marks nothing.
  const other = assemble([
    begin(12),
    { tag: "insert", relation: todos, new: { id: 2, bucket: "a", body: "y", n: 1 } },
    { tag: "insert", relation: marker, new: { instance: "x", direction: "y", slot: 0, txn: 1 } },
    commit,
  ]);
  const plain = toEnvelopes(other, ctx);
  assert.deepEqual(plain.map((e) => e.source.origin), [undefined, undefined]);
  assert.deepEqual(plain.map((e) => e.source.table), ["todos", "synchub_sync_marker"]);
});

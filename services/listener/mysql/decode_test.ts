import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { envelopeSchema } from "../../../lib/envelope.ts";
import { BinlogDecoder, mysqlValue, snapshotEnvelope, toEnvelopes } from "./decode.ts";

const cols = [
  { name: "id", type: 8 },
  { name: "bucket", type: 15 },
  { name: "doc", type: 252 },
  { name: "n", type: 3 },
];
const ctx = { jsonColumns: () => new Set(["doc"]) };
const env = {
  sourceName: "shop",
  bucketColumn: () => "bucket",
  primaryKey: () => ["id"],
  now: () => 1_700_000_000_999,
};

const spot = { file: "binlog.000001", pos: 4711, timestampMs: 1_700_000_000_000 };

Deno.test("a binlog transaction becomes ordered envelopes with key, before, after and changed", () => {
  const a = new BinlogDecoder(ctx);
  assert.deepEqual(a.push({ kind: "begin", gtid: "0-1-7", ...spot }), []);
  a.push({
    ...spot,
    kind: "rows",
    op: "c",
    db: "app",
    table: "t",
    columns: cols,
    rows: [{ id: 1, bucket: "a", doc: '{"k":[1]}', n: 1 }],
  });
  a.push({
    ...spot,
    kind: "rows",
    op: "u",
    db: "app",
    table: "t",
    columns: cols,
    rows: [{
      before: { id: 1, bucket: "a", doc: '{"k":[1]}', n: 1 },
      after: { id: 1, bucket: "a", doc: '{"k":[1]}', n: 2 },
    }],
  });
  a.push({
    ...spot,
    kind: "rows",
    op: "d",
    db: "app",
    table: "u",
    columns: cols,
    rows: [{ id: 9, bucket: null, doc: null, n: 0 }],
  });
  const [tx] = a.push({
    kind: "commit",
    gtid: "0-1-7",
    file: "binlog.000001",
    pos: 5000,
    timestampMs: 1_700_000_000_000,
  });
  assert.equal(a.idle, true);
  assert.deepEqual(tx!.commit?.pos, 5000, "the commit's end: where a restart resumes");
  const envs = toEnvelopes(tx!, env);
  for (const e of envs) envelopeSchema.parse(e);
  assert.deepEqual(envs.map((e) => e.op), ["c", "u", "d"]);
  assert.deepEqual(
    envs[0]!.after,
    { id: 1, bucket: "a", doc: { k: [1] }, n: 1 },
    "MariaDB JSON text is parsed",
  );
  assert.deepEqual(envs[1]!.changed, ["n"]);
  assert.deepEqual(envs[2]!.before, { id: 9, bucket: null, doc: null, n: 0 });
  assert.deepEqual(envs[2]!.key, { id: 9 });
  assert.equal(envs[0]!.source.txId, "0-1-7");
  assert.equal(envs[0]!.source.schema, null);
  assert.equal(envs[0]!.source.db, "app");
  assert.deepEqual(envs.map((e) => e.transaction!.total_order), [1, 2, 3]);
  assert.deepEqual(envs.map((e) => e.transaction!.data_collection_order), [1, 2, 1]);
  assert.equal(envs[0]!.id, "shop:binlog.000001:000000004711:0000000001");
  const positions = envs.map((e) => e.source.position);
  assert.deepEqual([...positions].sort(), positions);
});

Deno.test("values map per SPEC §2", () => {
  assert.equal(
    mysqlValue("2024-01-02 03:04:05.123456", 18),
    "2024-01-02T03:04:05.123456",
    "DATETIME has no zone",
  );
  assert.equal(
    mysqlValue("2024-01-02 03:04:05.5", 17),
    "2024-01-02T03:04:05.5Z",
    "TIMESTAMP is UTC",
  );
  assert.equal(mysqlValue("2024-01-02", 10), "2024-01-02");
  assert.equal(mysqlValue(Buffer.from([0, 255, 16]), 252), "AP8Q");
  assert.equal(mysqlValue(Buffer.from([1]), 16), 1, "BIT is a number");
  assert.equal(mysqlValue(18446744073709551615n, 8), "18446744073709551615");
  assert.equal(mysqlValue("18446744073709551615", 8), "18446744073709551615");
  assert.equal(mysqlValue("12.50", 246), "12.50", "DECIMAL stays a string");
  assert.deepEqual(mysqlValue({ a: [1] }, 245), { a: [1] }, "MySQL JSON arrives parsed");
  assert.equal(mysqlValue("not json", 252, true), "not json");
  assert.equal(mysqlValue(null, 3), null);
  assert.equal(mysqlValue(NaN, 5), "NaN");
});

Deno.test("snapshot rows are op r as of the snapshot's binlog position", () => {
  const e = snapshotEnvelope({ id: 3, bucket: "b" }, {
    db: "app",
    table: "t",
    file: "binlog.000002",
    pos: 99,
    primaryKey: ["id"],
    tsMs: 5,
  }, env);
  envelopeSchema.parse(e);
  assert.deepEqual([e.op, e.source.snapshot, e.bucket, e.key], ["r", "true", "b", { id: 3 }]);
  assert.equal(e.source.position, "binlog.000002:000000000099:0000000000");
});

Deno.test("a large binlog transaction leaves in parts; a sync marker first tags it", () => {
  const a = new BinlogDecoder(ctx, 2);
  const marker = [{ name: "instance", type: 15 }, { name: "direction", type: 15 }];
  a.push({ kind: "begin", gtid: "0-1-8", ...spot });
  assert.deepEqual(
    a.push({
      ...spot,
      kind: "rows",
      op: "u",
      db: "app",
      table: "synchub_sync_marker",
      columns: marker,
      rows: [{
        before: { instance: "s", direction: "local_to_cloud" },
        after: { instance: "s", direction: "local_to_cloud" },
      }],
    }),
    [],
  );
  const rows = [1, 2, 3, 4, 5].map((id) => ({ id, bucket: "a", doc: null, n: id }));
  const parts = a.push({
    ...spot,
    kind: "rows",
    op: "c",
    db: "app",
    table: "t",
    columns: cols,
    rows,
  });
  assert.deepEqual(parts.map((p) => [p.changes.length, p.commit]), [[2, null], [2, null]]);
  const last = a.push({ kind: "commit", gtid: "0-1-8", ...spot, pos: 9000 });
  assert.equal(last[0]!.changes.length, 1);
  const envs = [...parts, ...last].flatMap((p) => toEnvelopes(p, env));
  assert.deepEqual(envs.map((e) => e.transaction!.total_order), [2, 3, 4, 5, 6]);
  assert.ok(envs.every((e) => e.source.origin?.direction === "local_to_cloud"));
  assert.equal(new Set(envs.map((e) => e.id)).size, 5);
});

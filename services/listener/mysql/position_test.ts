import assert from "node:assert/strict";
import { changePosition, decodeCheckpoint, encodeCheckpoint } from "./position.ts";

Deno.test("checkpoints round-trip, with and without a GTID", () => {
  const a = { gtid: "0-1-1234", file: "binlog.000003", pos: 4711 };
  assert.deepEqual(decodeCheckpoint(encodeCheckpoint(a)), a);
  const b = { file: "mysql-bin.000001", pos: 4 };
  assert.deepEqual(decodeCheckpoint(encodeCheckpoint(b)), { ...b, gtid: undefined });
  assert.throws(() => decodeCheckpoint('{"file":1}'));
});

Deno.test("positions sort in commit order across files and offsets", () => {
  const ordered = [
    changePosition("binlog.000001", 999, 2),
    changePosition("binlog.000001", 1000, 1),
    changePosition("binlog.000001", 1000, 10),
    changePosition("binlog.000002", 4, 1),
  ];
  assert.deepEqual([...ordered].sort(), ordered);
});

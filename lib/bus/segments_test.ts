import assert from "node:assert/strict";
import { SegmentLog, SegmentPool } from "./segments.ts";

Deno.test("segments give back exactly what was written: multi-byte text, tombstones, big records", () => {
  const log = new SegmentLog(new SegmentPool(1024, 4));
  const written: { key: string; value: string | null }[] = [
    { key: '{"id":1}', value: '{"name":"Zoë ✓ 😀"}' },
    { key: '{"id":2}', value: null },
    { key: "", value: "" },
    { key: '{"id":"ü"}', value: "x".repeat(5000) }, // larger than a segment: its own
    { key: '{"id":3}', value: "😀".repeat(300) }, // 600 UTF-16 units, 1200 bytes
  ];
  for (let i = 0; i < 200; i++) written.push({ key: `{"id":${i}}`, value: `{"n":${i},"s":"é"}` });
  written.forEach((r, i) => assert.equal(log.append(r.key, r.value, 1000 + i), i));
  const back = log.slice(0, written.length);
  assert.deepEqual(back.map(({ key, value }) => ({ key, value })), written);
  assert.deepEqual(back.map((r) => r.offset), written.map((_, i) => i));
  assert.deepEqual(back.map((r) => r.timestamp), written.map((_, i) => 1000 + i));
  assert.deepEqual(log.slice(3, 5).map((r) => r.key), ['{"id":"ü"}', '{"id":3}']);
});

Deno.test("a quiet topic holds a small segment; a busy one grows to the largest and reuses them", () => {
  const pool = new SegmentPool(64 * 1024, 2);
  const quiet = new SegmentLog(pool);
  quiet.append("k", "v", 0);
  assert.equal(quiet.bytes, 4096);
  const busy = new SegmentLog(pool);
  for (let i = 0; i < 10_000; i++) busy.append(`{"id":${i}}`, "y".repeat(100), i);
  assert.ok(busy.bytes >= 10_000 * 100 && busy.bytes <= 10_000 * 130 + 64 * 1024, `${busy.bytes}`);
  const before = busy.bytes;
  busy.dropSegment();
  assert.equal(busy.bytes, before - 64 * 1024);
  assert.equal(busy.start, busy.slice(0, Infinity)[0]!.offset);
  // Dropping records one by one frees their segment with its last record.
  const start = busy.start;
  for (let i = 0; i < 10; i++) busy.dropOldest();
  assert.equal(busy.start, start + 10);
  assert.equal(busy.oldestTimestamp(), start + 10);
  busy.clear();
  assert.equal(busy.bytes, 0);
  assert.equal(busy.start, 10_000);
});

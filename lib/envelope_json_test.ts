import assert from "node:assert/strict";
import { sampleEnvelope } from "../tests/support/envelopes.ts";
import type { Envelope } from "./envelope.ts";
import { envelopeJson } from "./envelope_json.ts";

const pick = <T>(xs: readonly T[], r: () => number) => xs[Math.floor(r() * xs.length)]!;

/** A small deterministic generator, so a failure can be reproduced from its seed. */
function random(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

function randomEnvelope(r: () => number): Envelope {
  const strings = [
    "",
    "a",
    'quo"te',
    "back\\slash",
    "line\nbreak",
    "ünïcödé ✓",
    "\u0000nul",
    "\u2028",
  ];
  const values = [null, true, 0, -1.5, 1e21, "x", ...strings, [1, "a", null], { n: { m: [] } }];
  const row = () =>
    Object.fromEntries(
      Array.from(
        { length: Math.floor(r() * 5) },
        (_, i) => [`${pick(strings, r)}${i}`, pick(values, r)],
      ),
    );
  const base = sampleEnvelope();
  return {
    ...base,
    id: `pg:${pick(strings, r)}`,
    op: pick(["c", "u", "d", "r", "t"] as const, r),
    before: r() < 0.5 ? null : row(),
    after: r() < 0.3 ? null : row(),
    key: row(),
    changed: r() < 0.5 ? null : [pick(strings, r)],
    bucket: r() < 0.3 ? null : pick(strings, r),
    source: {
      ...base.source,
      schema: r() < 0.2 ? null : pick(strings, r),
      table: pick(strings, r) || "t",
      position: pick(strings, r) || "p",
      txId: r() < 0.2 ? null : pick(strings, r),
      snapshot: pick(["true", "last", "false"] as const, r),
    },
    transaction: r() < 0.3
      ? null
      : { id: pick(strings, r), total_order: 3, data_collection_order: 2 },
  };
}

/** JSON.stringify, with `ts_ns` as the exact decimal the envelope's microseconds give. */
function reference(e: Envelope): string {
  return JSON.stringify(e)
    .replace(`"ts_ns":${JSON.stringify(e.source.ts_ns)}`, `"ts_ns":${e.source.ts_us}000`)
    .replace(new RegExp(`"ts_ns":${JSON.stringify(e.ts_ns)}}$`), `"ts_ns":${e.ts_us}000}`);
}

Deno.test("envelopeJson is JSON.stringify of the envelope, with exact nanoseconds", () => {
  const r = random(42);
  for (let i = 0; i < 5000; i++) {
    const e = randomEnvelope(r);
    assert.equal(envelopeJson(e), reference(e), `seed 42, case ${i}`);
  }
});

Deno.test("ts_ns is written exactly beyond 2^53", () => {
  const e = sampleEnvelope();
  const text = envelopeJson(e);
  assert.match(text, /"ts_ns":1700000000000123000,/);
  assert.match(text, /"ts_ns":1700000000001456000}$/);
  assert.equal(JSON.parse(text).ts_us, 1_700_000_000_001_456);
});

Deno.test("envelopeJson reuses a transaction's source block but never mixes positions", () => {
  const a = sampleEnvelope();
  const b = { ...a, source: { ...a.source, position: "0000000001000000:0000000002" } };
  assert.equal(envelopeJson(a), reference(a));
  assert.equal(envelopeJson(b), reference(b));
  assert.equal(envelopeJson(a, '{"id":"a"}'), reference(a));
});

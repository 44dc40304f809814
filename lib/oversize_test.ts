import assert from "node:assert/strict";
import { sampleEnvelope } from "../tests/support/envelopes.ts";
import { envelopeSchema } from "./envelope.ts";
import { envelopeJson } from "./envelope_json.ts";
import { fitEnvelope } from "./oversize.ts";

Deno.test("an envelope that fits is published as it is", () => {
  const e = sampleEnvelope();
  const json = envelopeJson(e);
  const fit = fitEnvelope(e, json, 1024 * 1024);
  assert.equal(fit.oversize, null);
  assert.equal(fit.json, json);
});

Deno.test("an oversize envelope loses its largest values, never its key, and says so", () => {
  const big = "x".repeat(200_000);
  const e = sampleEnvelope({
    op: "u",
    before: { id: "a", title: big, note: "small", bucket: "b1" },
    after: { id: "a", title: big + "y", note: "small", bucket: "b1" },
    changed: ["title"],
  });
  const fit = fitEnvelope(e, envelopeJson(e), 64 * 1024);
  assert.deepEqual(fit.oversize?.columns, ["title"]);
  assert.ok(fit.oversize!.bytes > 400_000);
  assert.ok(fit.json.length < 64 * 1024);
  const parsed = envelopeSchema.parse(JSON.parse(fit.json));
  assert.deepEqual(parsed.after, { id: "a", note: "small", bucket: "b1" });
  assert.deepEqual(parsed.before, { id: "a", note: "small", bucket: "b1" });
  assert.deepEqual(parsed.key, { id: "a" });
  assert.deepEqual(parsed.changed, ["title"], "the client learns the value changed");
  assert.deepEqual(parsed.oversize, fit.oversize);
});

Deno.test("multi-byte text is measured in bytes, not characters", () => {
  const wide = "€".repeat(30_000); // 90,000 bytes, 30,000 characters
  const e = sampleEnvelope({ after: { id: "a", title: wide, bucket: "b1" } });
  assert.equal(fitEnvelope(e, envelopeJson(e), 80_000).oversize?.columns[0], "title");
  assert.equal(fitEnvelope(e, envelopeJson(e), 100_000).oversize, null);
});

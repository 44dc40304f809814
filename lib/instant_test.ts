import assert from "node:assert/strict";
import { instantOf } from "./instant.ts";

Deno.test("instants in the forms the API takes, offsets applied", () => {
  const at = Date.UTC(2024, 0, 2, 3, 4, 5, 678);
  assert.equal(instantOf("2024-01-02T03:04:05.678Z"), at);
  assert.equal(instantOf("2024-01-02 03:04:05.678999"), at);
  assert.equal(instantOf("2024-01-02T08:34:05.678+05:30"), at);
  assert.equal(instantOf("2024-01-02T08:34:05.678+0530"), at);
  assert.equal(instantOf("2024-01-02T01:04:05.678-02"), at);
  assert.equal(instantOf("2024-01-02"), Date.UTC(2024, 0, 2));
  const early = new Date(0);
  early.setUTCFullYear(50, 0, 1);
  assert.equal(instantOf("0050-01-01"), early.getTime(), "not 1950");
  for (const bad of ["yesterday", "2024-01-02T03", "infinity", "24-01-02", ""]) {
    assert.equal(instantOf(bad), undefined, bad);
  }
});

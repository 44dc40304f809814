import assert from "node:assert/strict";
import { fromPgError } from "./errors.ts";

Deno.test("data exceptions (class 22) answer in our words, never the database's", () => {
  const cases: Array<[string, string]> = [
    ["22007", 'invalid input syntax for type timestamp: "2020-13-45"'],
    ["22008", 'date/time field value out of range: "0000-01-01"'],
    ["22P02", 'invalid input syntax for type uuid: "x"'],
    ["22003", "numeric field overflow"],
    ["22001", "value too long for type character varying(3)"],
    ["22021", 'invalid byte sequence for encoding "UTF8": 0x00'],
    ["22P05", "unsupported Unicode escape sequence"],
    ["22009", 'time zone displacement out of range: "+16:00"'],
    ["22999", "some future data exception"],
  ];
  for (const [code, message] of cases) {
    const e = fromPgError({ code, message, column: "c" });
    assert.equal(e.code, "validation_failed", code);
    assert.equal(e.status, 400);
    assert.ok(
      !e.message.includes(message) && !message.includes(e.message),
      `${code}: ${e.message}`,
    );
    assert.deepEqual(e.details, { column: "c" });
  }
});

import assert from "node:assert/strict";
import { z } from "zod";
import { codePoints, text } from "./text_value.ts";

Deno.test("lengths count characters, as JSON Schema and PostgreSQL do", () => {
  assert.equal(codePoints("😀a"), 2);
  const s = text({ min: 2, max: 3 });
  assert.equal(s.safeParse("😀😀😀").success, true, "6 UTF-16 units, 3 characters");
  assert.equal(s.safeParse("😀😀😀😀").success, false);
  assert.equal(s.safeParse("😀").success, false);
  const doc = z.toJSONSchema(s, { io: "input" }) as Record<string, unknown>;
  assert.equal(doc.minLength, 2);
  assert.equal(doc.maxLength, 3);
});

Deno.test("no NUL where the text is stored; patterns documented as checked", () => {
  assert.equal(text().safeParse("a\u0000b").success, false);
  assert.equal(text({ storable: false }).safeParse("a\u0000b").success, true);
  const bucket = text({ pattern: /^[^\s*]+$/ });
  assert.equal(bucket.safeParse("a b").success, false);
  const doc = JSON.stringify(z.toJSONSchema(bucket, { io: "input" }));
  assert.match(doc, /\^\[\^\\\\u0000\]\*\$/);
  assert.match(doc, /\^\[\^\\\\s\*\]\+\$/);
});

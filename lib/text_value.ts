/**
 * Strings as the REST API takes them: lengths counted in characters (code points), as JSON Schema
 * and PostgreSQL count them, not in UTF-16 units; and no NUL, which PostgreSQL text cannot hold.
 * Each check is documented as the JSON Schema keyword that says the same, so /openapi.json
 * allows exactly what the API accepts.
 */
import { z } from "zod";

/** No NUL character: PostgreSQL text, JSON and JSONB refuse it. */
// deno-lint-ignore no-control-regex -- NUL is exactly what is refused
export const NO_NUL = /^[^\u0000]*$/;

/** Characters (code points) in a string. */
export function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

export interface TextRules {
  min?: number | undefined;
  max?: number | undefined;
  /** A pattern the whole string must match: anchored, in the dialect JSON Schema shares. */
  pattern?: RegExp | undefined;
  /** Said when the pattern does not match. */
  expected?: string | undefined;
  /** JSON Schema's `format`, where the pattern narrows one (`date-time`, `email`). */
  format?: string | undefined;
  /** False where the string never reaches the database (a password). */
  storable?: boolean | undefined;
}

/** A string with these rules, in zod, documented with the same rules. */
export function text(rules: TextRules = {}): z.ZodString {
  const { min, max, pattern, storable = true } = rules;
  let s = z.string();
  if (storable) s = s.regex(NO_NUL, "must not contain NUL characters");
  if (pattern) s = s.regex(pattern, rules.expected ?? `must match ${pattern.source}`);
  if (min !== undefined && min > 0) {
    s = s.refine(
      (v) => codePoints(v) >= min,
      `at least ${min} characters`,
    ) as unknown as z.ZodString;
  }
  if (max !== undefined) {
    s = s.refine(
      (v) => codePoints(v) <= max,
      `at most ${max} characters`,
    ) as unknown as z.ZodString;
  }
  // zod documents the patterns itself; the lengths, counted as it cannot, are said here.
  return s.meta({
    ...(rules.format ? { format: rules.format } : {}),
    ...(min !== undefined && min > 0 ? { minLength: min } : {}),
    ...(max !== undefined ? { maxLength: max } : {}),
  });
}

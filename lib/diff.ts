/** Differential updates: which columns an update changed, by value. */
import type { JsonValue, Row } from "./envelope.ts";

export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as JsonValue[];
    return a.length === bb.length && a.every((v, i) => jsonEqual(v, bb[i]));
  }
  const ao = a as Record<string, JsonValue>;
  const bo = b as Record<string, JsonValue>;
  const keys = Object.keys(ao);
  return keys.length === Object.keys(bo).length &&
    keys.every((k) => Object.hasOwn(bo, k) && jsonEqual(ao[k], bo[k]));
}

/**
 * The columns of `after` whose values differ from `before`. A column missing from `after` was not
 * sent by the source (PostgreSQL unchanged TOAST) and is never listed.
 */
export function changedColumns(before: Row, after: Row): string[] {
  const changed: string[] = [];
  for (const column of Object.keys(after)) {
    if (!Object.hasOwn(before, column) || !jsonEqual(before[column], after[column])) {
      changed.push(column);
    }
  }
  return changed;
}

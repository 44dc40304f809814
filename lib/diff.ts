/** Differential updates: which columns an update changed, by value. */

/** Deep equality of JSON values (objects compare by keys and values, arrays by position). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => jsonEqual(v, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = Object.keys(ao);
  return keys.length === Object.keys(bo).length &&
    keys.every((k) => Object.hasOwn(bo, k) && jsonEqual(ao[k], bo[k]));
}

/**
 * The columns of `after` whose values differ from `before`. A column missing from `after` was not
 * sent by the source (PostgreSQL unchanged TOAST) and is never listed.
 */
export function changedColumns(
  before: Readonly<Record<string, unknown>>,
  after: Readonly<Record<string, unknown>>,
): string[] {
  const changed: string[] = [];
  for (const column of Object.keys(after)) {
    if (!Object.hasOwn(before, column) || !jsonEqual(before[column], after[column])) {
      changed.push(column);
    }
  }
  return changed;
}

/**
 * A regular expression (JSON Schema's dialect: no flags, no lookaround) for decimal integers
 * within bounds — how /openapi.json says "a bigint" or "an int4 in a URL" exactly, where a
 * number would lose digits. Canonical forms only: no `+`, no leading zeros, no `-0`.
 */

/** Source (unanchored) matching the integers from `min` to `max`. */
export function integerPattern(min: bigint, max: bigint): string {
  const parts: string[] = [];
  if (max >= 0n) parts.push(upTo(max.toString(), min <= 0n));
  if (min < 0n) {
    const negative = upTo((-min).toString(), false);
    parts.push(`-(?:${negative})`);
  }
  return parts.length === 1 ? parts[0]! : parts.map((p) => `(?:${p})`).join("|");
}

/** Non-negative integers up to `n` (a digit string): from 0, or from 1 when `zero` is false. */
function upTo(n: string, zero: boolean): string {
  const alternatives: string[] = zero ? ["0"] : [];
  for (let length = 1; length < n.length; length++) {
    alternatives.push(length === 1 ? "[1-9]" : `[1-9]\\d{${length - 1}}`);
  }
  // As long as `n`: the same first i digits, a smaller one, then anything.
  for (let i = 0; i < n.length; i++) {
    const digit = Number(n[i]);
    const low = i === 0 ? 1 : 0;
    if (digit - 1 >= low) {
      const rest = n.length - i - 1;
      alternatives.push(
        `${n.slice(0, i)}${range(low, digit - 1)}${rest > 0 ? `\\d{${rest}}` : ""}`,
      );
    }
  }
  if (n !== "0") alternatives.push(n);
  return alternatives.join("|");
}

function range(low: number, high: number): string {
  return low === high ? String(low) : `[${low}-${high}]`;
}

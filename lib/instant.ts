/**
 * Instants written as the API takes them (`2024-01-02`, `2024-01-02T03:04[:05[.678]]`, with `Z`,
 * `+05`, `+0530` or `+05:30`, a space for the `T`), as milliseconds since the epoch. Date.parse
 * takes more than that and not all of it (years below 100, offsets without a colon), so the
 * API's comparisons do not rely on it. No zone: UTC, as the database session has it.
 */
const FORM =
  /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?(Z|([+-])(\d\d)(?::?(\d\d))?)?)?$/;

export function instantOf(text: string): number | undefined {
  const m = FORM.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h = "0", mi = "0", s = "0", fraction = "", zone, sign, zh = "0", zm = "0"] = m;
  const date = new Date(0);
  date.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  date.setUTCHours(Number(h), Number(mi), Number(s), Number(fraction.padEnd(3, "0").slice(0, 3)));
  const offset = zone && zone !== "Z"
    ? (Number(zh) * 60 + Number(zm)) * (sign === "-" ? -1 : 1)
    : 0;
  const t = date.getTime() - offset * 60_000;
  return Number.isNaN(t) ? undefined : t;
}

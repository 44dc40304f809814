/** Reading a Prometheus text exposition, as the tests do. */
import assert from "node:assert/strict";

/** One value, by its series as written (`name` or `name{label="x"}`). */
export function metric(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  assert.ok(line, `no ${series} in /metrics`);
  return Number(line.slice(series.length + 1));
}

/** The series lines (not comments) of an exposition. */
export function seriesOf(text: string): string[] {
  return text.split("\n").filter((l) => l !== "" && !l.startsWith("#")).map((l) =>
    l.slice(0, l.lastIndexOf(" "))
  );
}

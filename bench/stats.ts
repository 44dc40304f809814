/** Percentiles and the bench's output: a table for people, one JSON line per figure for tools. */

export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export function summarize(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  return {
    count: s.length,
    p50: percentile(s, 0.5),
    p99: percentile(s, 0.99),
    max: s.at(-1) ?? NaN,
  };
}

export type Figure =
  & { bench: string; transport: string }
  & Record<string, string | number | boolean>;

const figures: Figure[] = [];

/** Records a figure and prints its JSON line at once, so a cut-short run still reports. */
export function report(figure: Figure): void {
  figures.push(figure);
  console.log(JSON.stringify(figure));
}

export function round(n: number, digits = 2): number {
  return Number.isFinite(n) ? Number(n.toFixed(digits)) : n;
}

export function printTable(): void {
  const rows = figures.map((f) => {
    const { bench, transport, ...rest } = f;
    return [bench, transport, Object.entries(rest).map(([k, v]) => `${k}=${v}`).join("  ")];
  });
  const width = [0, 1].map((c) => Math.max(...rows.map((r) => r[c]!.length), 10));
  console.log("");
  console.log(`${"bench".padEnd(width[0]!)}  ${"transport".padEnd(width[1]!)}  figures`);
  for (const r of rows) {
    console.log(`${r[0]!.padEnd(width[0]!)}  ${r[1]!.padEnd(width[1]!)}  ${r[2]}`);
  }
}

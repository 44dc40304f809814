/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in the
 * text exposition format. Each service owns one registry; process metrics are added on render.
 */
import { cpuUsage } from "node:process";
import { VERSION } from "./version.ts";

type Labels = Record<string, string>;

/** The default label set; metrics keep its series at hand (hot paths count without labels). */
const NO_LABELS: Labels = Object.freeze({});

abstract class Metric {
  protected readonly series = new Map<string, { labels: Labels; value: number }>();
  private unlabelled: { labels: Labels; value: number } | undefined;
  constructor(readonly name: string, readonly help: string, readonly type: string) {}

  protected entry(labels: Labels) {
    if (labels === NO_LABELS) {
      if (!this.unlabelled) this.series.set("", this.unlabelled = { labels, value: 0 });
      return this.unlabelled;
    }
    const id = labelText(labels);
    let e = this.series.get(id);
    if (!e) this.series.set(id, e = { labels, value: 0 });
    return e;
  }

  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const { labels, value } of this.series.values()) {
      lines.push(`${this.name}${labelText(labels)} ${formatNumber(value)}`);
    }
    return lines;
  }
}

export class Counter extends Metric {
  constructor(name: string, help: string) {
    super(name, help, "counter");
  }
  inc(labels: Labels = NO_LABELS, by = 1): void {
    this.entry(labels).value += by;
  }
  get(labels: Labels = NO_LABELS): number {
    return this.series.get(labelText(labels))?.value ?? 0;
  }
}

export class Gauge extends Metric {
  constructor(name: string, help: string, private readonly collect?: () => number) {
    super(name, help, "gauge");
  }
  set(value: number, labels: Labels = NO_LABELS): void {
    this.entry(labels).value = value;
  }
  inc(labels: Labels = NO_LABELS, by = 1): void {
    this.entry(labels).value += by;
  }
  dec(labels: Labels = NO_LABELS, by = 1): void {
    this.entry(labels).value -= by;
  }
  get(labels: Labels = NO_LABELS): number {
    return this.series.get(labelText(labels))?.value ?? 0;
  }
  override render(): string[] {
    if (this.collect) this.set(this.collect());
    return super.render();
  }
}

/** Buckets for durations in seconds (SPEC §12: base units), from 1 ms to 5 s. */
export const SECONDS_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class Histogram {
  private readonly series = new Map<
    string,
    { labels: Labels; counts: number[]; sum: number; count: number }
  >();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
  ) {}

  observe(value: number, labels: Labels = {}): void {
    const id = labelText(labels);
    let s = this.series.get(id);
    if (!s) {
      this.series.set(id, s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 });
    }
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= this.buckets[i]!) s.counts[i]!++;
    }
    s.sum += value;
    s.count++;
  }

  count(labels: Labels = {}): number {
    return this.series.get(labelText(labels))?.count ?? 0;
  }

  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => {
        lines.push(
          `${this.name}_bucket${labelText({ ...s.labels, le: String(b) })} ${s.counts[i]}`,
        );
      });
      lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: "+Inf" })} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(s.labels)} ${formatNumber(s.sum)}`);
      lines.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return lines;
  }
}

/** A counter whose value is read when rendered (CPU seconds, from the process). */
class CollectedCounter extends Metric {
  constructor(name: string, help: string, private readonly collect: () => number) {
    super(name, help, "counter");
  }
  override render(): string[] {
    this.entry(NO_LABELS).value = this.collect();
    return super.render();
  }
}

export class Registry {
  private readonly metrics = new Map<string, Metric | Histogram>();

  constructor(readonly service: string) {
    // --- debezium branch: build info and process metrics (SPEC §12) ---
    this.gauge("synchub_build_info", "1, labelled with the build: version, service, runtime.")
      .set(1, { version: VERSION, service, runtime: "deno", runtime_version: Deno.version.deno });
    this.gauge(
      "process_resident_memory_bytes",
      "Resident set size of the process in bytes.",
      () => Deno.memoryUsage().rss,
    );
    this.gauge(
      "process_heap_bytes",
      "Bytes of JavaScript heap in use.",
      () => Deno.memoryUsage().heapUsed,
    );
    this.gauge(
      "process_heap_total_bytes",
      "Bytes V8 holds for the JavaScript heap, in use or not (what resident memory follows).",
      () => Deno.memoryUsage().heapTotal,
    );
    this.gauge(
      "process_external_memory_bytes",
      "Bytes outside the JavaScript heap that JavaScript objects hold (ArrayBuffers and such).",
      () => Deno.memoryUsage().external,
    );
    this.register(
      "process_cpu_seconds_total",
      () =>
        new CollectedCounter(
          "process_cpu_seconds_total",
          "User and system CPU time spent, in seconds.",
          () => {
            const { user, system } = cpuUsage();
            return (user + system) / 1e6;
          },
        ),
    );
    this.gauge("process_open_fds", "Open file descriptors.", openFds);
    this.gauge(
      "process_start_time_seconds",
      "Start time of the process, in seconds since the epoch.",
    )
      .set(Math.round(performance.timeOrigin) / 1000);
    // --- end debezium branch ---
  }

  counter(name: string, help: string): Counter {
    return this.register(name, () => new Counter(name, help));
  }
  gauge(name: string, help: string, collect?: () => number): Gauge {
    return this.register(name, () => new Gauge(name, help, collect));
  }
  histogram(name: string, help: string, buckets?: readonly number[]): Histogram {
    return this.register(name, () => new Histogram(name, help, buckets));
  }

  /** Prometheus text exposition format. */
  render(): string {
    return [...this.metrics.values()].flatMap((m) => m.render()).join("\n") + "\n";
  }

  private register<T extends Metric | Histogram>(name: string, make: () => T): T {
    const m = make();
    const existing = this.metrics.get(name);
    if (existing) {
      // Two parts of a service may share a metric, never under two types (a gauge where a
      // histogram is expected fails only when it is first observed).
      if (existing.constructor !== m.constructor) {
        throw new Error(`metric ${name} is registered as two different types`);
      }
      return existing as T;
    }
    this.metrics.set(name, m);
    return m;
  }
}

function labelText(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return "";
  return `{${keys.map((k) => `${k}="${escapeLabel(labels[k]!)}"`).join(",")}}`;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (!Number.isFinite(n)) return n > 0 ? "+Inf" : "-Inf";
  return String(n);
}

/** Entries of /proc/self/fd (Linux); 0 where there is no such directory. */
function openFds(): number {
  try {
    let n = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
    return n;
  } catch {
    return 0;
  }
}

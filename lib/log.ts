/**
 * Structured logs (SPEC §12): one JSON object per line on stderr, filtered by LOG_LEVEL — `ts`,
 * `level`, `service`, `component` (the part of the service, for child loggers), `msg`, the
 * active trace's `trace_id` and `span_id` (null when nothing is traced), the fields, and the
 * stack of any error among them.
 */
import { activeIds } from "./tracing.ts";

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LEVELS;
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(component: string): Logger;
}

export function createLogger(
  component: string,
  level: LogLevel = "info",
  write: (line: string) => void = (line) => console.error(line),
): Logger {
  const threshold = LEVELS[level];
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (LEVELS[lvl] < threshold) return;
    const dot = component.indexOf(".");
    const entry: Record<string, unknown> = {
      ts: new Date().toISOString(),
      level: lvl,
      service: dot < 0 ? component : component.slice(0, dot),
      ...(dot < 0 ? {} : { component: component.slice(dot + 1) }),
      msg,
      ...activeIds(),
    };
    for (const [k, v] of Object.entries(fields ?? {})) entry[k] = serializable(v);
    write(JSON.stringify(entry));
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (name) => createLogger(`${component}.${name}`, level, write),
  };
}

function serializable(v: unknown): unknown {
  if (v instanceof Error) {
    const out: Record<string, unknown> = { name: v.name, message: v.message };
    const code = (v as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    if (v.stack) out.stack = v.stack;
    if (v.cause !== undefined) out.cause = serializable(v.cause);
    return out;
  }
  return typeof v === "bigint" ? v.toString() : v;
}

/** A logger that keeps nothing; for tests that do not look at logs. */
export const silentLogger: Logger = createLogger("silent", "error", () => {});

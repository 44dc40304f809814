/**
 * OpenTelemetry traces (SPEC §12) through Deno's built-in exporter: with `OTEL_DENO=true` Deno
 * exports every span made with `@opentelemetry/api` over OTLP (`OTEL_EXPORTER_OTLP_ENDPOINT`);
 * without it the API hands out spans that record nothing. A change's trace crosses process
 * boundaries as a W3C `traceparent`: in the transaction's WAL (a logical decoding message the CRUD
 * service writes with the row), then in the bus record's headers.
 */
import {
  type Context,
  context,
  isSpanContextValid,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";

export type { Span };
export { SpanKind };

const tracer = trace.getTracer("synchub");

/** The prefix of the logical decoding message that carries a transaction's trace context. */
export const TRACE_MESSAGE_PREFIX = "synchub.trace";

/** Runs `fn` in a new span (a child of the active one, or of `parent`), ended when it settles. */
export async function inSpan<T>(
  name: string,
  opts: { kind?: SpanKind; parent?: Context; attributes?: Record<string, string | number> },
  fn: (span: Span) => Promise<T> | T,
): Promise<T> {
  const parent = opts.parent ?? context.active();
  const span = tracer.startSpan(name, {
    kind: opts.kind ?? SpanKind.INTERNAL,
    ...(opts.attributes ? { attributes: opts.attributes } : {}),
  }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    span.end();
  }
}

/** The active trace as a W3C `traceparent`, or undefined when nothing is traced. */
export function currentTraceparent(ctx: Context = context.active()): string | undefined {
  if (
    !isSpanContextValid(trace.getSpanContext(ctx) ?? { traceId: "", spanId: "", traceFlags: 0 })
  ) {
    return undefined;
  }
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent;
}

/** The context a `traceparent` names, to start child spans in; the active one without it. */
export function contextOf(traceparent: string | undefined): Context {
  if (!traceparent) return context.active();
  return propagation.extract(context.active(), { traceparent });
}

/** The ids of the active span, for log lines; nulls when nothing is traced. */
export function activeIds(): { trace_id: string | null; span_id: string | null } {
  const sc = trace.getActiveSpan()?.spanContext();
  return sc && isSpanContextValid(sc)
    ? { trace_id: sc.traceId, span_id: sc.spanId }
    : { trace_id: null, span_id: null };
}

/**
 * A span that outlives the call that starts it (a publish acknowledged later), as a child of the
 * trace `traceparent` names; `traceparent` of the result names the new span, for the next hop.
 * Undefined when there is no trace to continue.
 */
export function startChildSpan(
  name: string,
  traceparent: string | undefined,
  opts: { kind?: SpanKind; attributes?: Record<string, string | number> } = {},
): { span: Span; traceparent: string | undefined } | undefined {
  if (!traceparent) return undefined;
  const parent = contextOf(traceparent);
  const span = tracer.startSpan(name, {
    kind: opts.kind ?? SpanKind.INTERNAL,
    ...(opts.attributes ? { attributes: opts.attributes } : {}),
  }, parent);
  return { span, traceparent: currentTraceparent(trace.setSpan(parent, span)) };
}

/** Ends a span, marking it failed when `err` is given. */
export function endSpan(span: Span | undefined, err?: unknown): void {
  if (!span) return;
  if (err !== undefined) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: String((err as Error)?.message ?? err) });
  }
  span.end();
}

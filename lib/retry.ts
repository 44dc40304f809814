/**
 * Back-off by kind of failure, with full jitter and a cap. Authentication and configuration
 * failures retry slowly (a person must fix something), network failures at a medium pace,
 * anything else quickly.
 */

export type FailureKind = "auth" | "config" | "network" | "other";

const POLICY: Record<FailureKind, { baseMs: number; capMs: number }> = {
  auth: { baseMs: 5_000, capMs: 60_000 },
  config: { baseMs: 10_000, capMs: 120_000 },
  network: { baseMs: 500, capMs: 15_000 },
  other: { baseMs: 100, capMs: 5_000 },
};

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "57P01", // admin_shutdown
  "57P03", // cannot_connect_now
  "08000",
  "08003",
  "08006",
]);
const AUTH_CODES = new Set(["28000", "28P01", "ER_ACCESS_DENIED_ERROR", "SASL_AUTH_FAILED"]);

export function classifyFailure(err: unknown): FailureKind {
  // A server or setting that must be fixed by a person (binlog format, a lost resume point).
  if (/(ConfigError|LostError)$/.test(String((err as { name?: unknown })?.name ?? ""))) {
    return "config";
  }
  const code = String((err as { code?: unknown })?.code ?? "");
  if (AUTH_CODES.has(code)) return "auth";
  if (NETWORK_CODES.has(code)) return "network";
  const text = String((err as { message?: unknown })?.message ?? err);
  if (/authentication|password|permission denied for/i.test(text)) return "auth";
  if (
    /ECONNREFUSED|ECONNRESET|connection (terminated|refused|closed)|timeout|Connection lost/i.test(
      text,
    )
  ) {
    return "network";
  }
  return "other";
}

/** Delay before attempt `attempt` (0-based): a uniform draw in [0, min(cap, base·2^attempt)]. */
export function backoffDelay(kind: FailureKind, attempt: number, random = Math.random): number {
  const { baseMs, capMs } = POLICY[kind];
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.max(baseMs / 4, Math.round(random() * ceiling));
}

/** Resolves after `ms`, or at once when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}

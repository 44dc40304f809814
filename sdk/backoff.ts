/**
 * Retry delays: exponential, capped, with full jitter so clients cut off together do not return
 * together. Failures of authentication back off slowly; the network at a medium pace.
 */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

export const NETWORK_BACKOFF: BackoffPolicy = { baseMs: 250, capMs: 15_000 };
export const AUTH_BACKOFF: BackoffPolicy = { baseMs: 5_000, capMs: 60_000 };

/** The delay before retry `attempt` (0-based): uniform in [base/4, min(cap, base·2^attempt)]. */
export function backoffDelay(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  const floor = policy.baseMs / 4;
  return Math.round(floor + random() * Math.max(0, ceiling - floor));
}

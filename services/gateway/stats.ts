/**
 * `GET /stats` (SPEC §10): what the gateway is doing, as counts only — no identities. Holders of
 * open connections are counted by their token's `sub`, kept here and nowhere else.
 */
import type { BusRecord } from "../../lib/bus/bus.ts";
import type { Counter, Gauge } from "../../lib/metrics.ts";
import { parseRecord } from "./subscription.ts";

export interface GatewayStatsBody {
  /** Changes the gateway has taken from the bus since it started. */
  total_changes: number;
  /** Change frames sent to clients (one change to three subscribers counts three). */
  delivered_changes: number;
  active_connections: number;
  active_subscriptions: number;
  /** Distinct token `sub`s among the open connections. */
  active_users: number;
  /** Commit at the source to fan-out, for the latest change taken from the bus; 0 before any. */
  lag_ms: number;
}

export class GatewayStats {
  private readonly users = new Map<string, number>();
  private lagMs = 0;

  constructor(
    private readonly counters: {
      changes: Counter;
      delivered: Counter;
      connections: Gauge;
      subscriptions: () => number;
    },
  ) {}

  connected(sub: string): void {
    this.users.set(sub, (this.users.get(sub) ?? 0) + 1);
  }

  disconnected(sub: string): void {
    const n = (this.users.get(sub) ?? 0) - 1;
    if (n > 0) this.users.set(sub, n);
    else this.users.delete(sub);
  }

  /** Table records taken from the bus; only the last of a batch is parsed, for the lag. */
  taken(records: readonly BusRecord[], now = Date.now()): void {
    let n = 0;
    let last: BusRecord | undefined;
    for (const r of records) {
      if (r.value === null) continue;
      n++;
      last = r;
    }
    if (n === 0) return;
    this.counters.changes.inc(undefined, n);
    const ts = last && parseRecord(last)?.source.ts_ms;
    if (typeof ts === "number") this.lagMs = Math.max(0, now - ts);
  }

  /** Counts a change frame sent to a client. */
  changeSent(): void {
    this.counters.delivered.inc();
  }

  body(): GatewayStatsBody {
    return {
      total_changes: this.counters.changes.get(),
      delivered_changes: this.counters.delivered.get(),
      active_connections: this.counters.connections.get(),
      active_subscriptions: this.counters.subscriptions(),
      active_users: this.users.size,
      lag_ms: this.lagMs,
    };
  }
}

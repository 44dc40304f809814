/**
 * The listener service: one pipeline per configured source, each restarted with back-off when its
 * database or the bus fails. A restart resumes from the source's last confirmed position. Before a
 * source streams, its tables are on the bus's catalog; the catalog is refreshed every
 * `catalogRefreshMs` so tables added or altered later are served too.
 *
 * Several listeners may run for the same sources: for each source, the one holding its lease is
 * active and the others wait, quietly, as standbys (lease.ts).
 */
import type { Bus } from "../../lib/bus/bus.ts";
import type { Logger } from "../../lib/log.ts";
import { type Registry, SECONDS_BUCKETS } from "../../lib/metrics.ts";
import { backoffDelay, classifyFailure, sleep } from "../../lib/retry.ts";
import { CatalogPublisher } from "./catalog_publisher.ts";
import { type HeldLease, type Lease, soleLease } from "./lease.ts";
import { runPipeline } from "./pipeline.ts";
import type { Source } from "./source.ts";

export interface ListenerDeps {
  sources: readonly Source[];
  bus: Bus;
  topicPrefix: string;
  log: Logger;
  registry: Registry;
  catalogRefreshMs?: number;
  /** The largest envelope the bus takes whole; larger ones lose their largest values. */
  maxEnvelopeBytes?: number;
  /** Who captures each source when several listeners run; default: this one, always. */
  lease?: Lease;
}

export interface Listener {
  /** Every source is streaming here, or waits as a standby for another listener. */
  ready(): boolean;
  /** Sources this listener captures now; the rest wait as standbys. */
  roles(): Record<string, "active" | "standby" | "starting">;
  stop(): Promise<void>;
}

export function startListener(deps: ListenerDeps): Listener {
  const { registry, log } = deps;
  const metrics = {
    envelopes: registry.counter(
      "synchub_listener_envelopes_total",
      "Envelopes published to the bus.",
    ),
    batches: registry.counter("synchub_listener_batches_total", "Source transactions confirmed."),
    lag: registry.histogram(
      "synchub_listener_lag_seconds",
      "Seconds from commit at the source to acceptance by the bus.",
      SECONDS_BUCKETS,
    ),
    oversize: registry.counter(
      "synchub_listener_oversize_envelopes_total",
      "Changes published without their largest values (oversize) to fit the bus's message limit.",
    ),
  };
  const restarts = registry.counter(
    "synchub_listener_restarts_total",
    "Source pipeline restarts after a failure, by kind of failure.",
  );
  const active = registry.gauge(
    "synchub_listener_active",
    "1 while this listener captures the source, 0 while it waits as a standby for another.",
  );
  const health = {
    lag: registry.gauge(
      "synchub_listener_slot_lag_bytes",
      "Bytes of change the source database holds that the bus does not have yet (slot lag).",
    ),
    retained: registry.gauge(
      "synchub_listener_slot_retained_bytes",
      "Bytes of WAL the source database keeps for this listener's slot.",
    ),
    age: registry.gauge(
      "synchub_listener_confirmed_age_seconds",
      "Seconds since the source's confirmed position last moved.",
    ),
  };
  const readHealth = () => {
    for (const s of deps.sources) {
      if (roles[s.name] !== "active") continue;
      const h = s.health?.();
      const labels = { source: s.name };
      if (h?.lagBytes !== undefined) health.lag.set(h.lagBytes, labels);
      if (h?.retainedBytes !== undefined) health.retained.set(h.retainedBytes, labels);
      if (h?.confirmedAgeSeconds !== undefined) health.age.set(h.confirmedAgeSeconds, labels);
    }
  };
  const healthTimer = setInterval(readHealth, 5_000);
  const catalog = new CatalogPublisher(deps.bus, deps.topicPrefix, log.child("catalog"));
  const stop = new AbortController();
  const lease = deps.lease ?? soleLease;
  const roles: Record<string, "active" | "standby" | "starting"> = {};

  const run = async (source: Source) => {
    let attempt = 0;
    roles[source.name] = "starting";
    while (!stop.signal.aborted) {
      const started = Date.now();
      let held: HeldLease | undefined;
      try {
        held = await lease.acquire(source.name, stop.signal, () => {
          roles[source.name] = "standby";
          active.set(0, { source: source.name });
          log.info("standby: another listener captures this source; taking over when it stops", {
            source: source.name,
          });
        });
        if (roles[source.name] === "standby") {
          log.info("taking over the source", { source: source.name });
        }
        roles[source.name] = "active";
        active.set(1, { source: source.name });
        const signal = AbortSignal.any([stop.signal, held.lost]);
        await deps.bus.connect(signal); // with Kafka down, wait for it rather than spin
        await catalog.publish(source);
        await runPipeline({
          ...deps,
          source,
          metrics,
          tableOf: (qualified) => catalog.tableOf(source.name, qualified),
        }, signal);
        if (held.lost.aborted && !stop.signal.aborted) {
          log.warn("lost the source's lease; standing by", { source: source.name });
        }
      } catch (err) {
        if (stop.signal.aborted) break;
        if (Date.now() - started > 60_000) attempt = 0; // it ran well for a while: start over
        const kind = classifyFailure(err);
        const delay = backoffDelay(kind, attempt++);
        restarts.inc({ source: source.name, kind });
        log.warn("source failed; restarting from its last confirmed position", {
          source: source.name,
          kind,
          attempt,
          retryInMs: delay,
          err,
        });
        await held?.release();
        held = undefined;
        await sleep(delay, stop.signal);
      } finally {
        await held?.release();
      }
    }
  };
  const refresh = async () => {
    while (!stop.signal.aborted) {
      await sleep(deps.catalogRefreshMs ?? 10_000, stop.signal);
      for (const source of deps.sources) {
        if (stop.signal.aborted || !source.ready()) continue;
        await catalog.publish(source).catch((err) =>
          log.warn("could not refresh the catalog", { source: source.name, err })
        );
      }
    }
  };
  // Connected from the start, standby or not: a standby takes over warm.
  deps.bus.connect(stop.signal).catch(() => {});
  const running = [...deps.sources.map(run), refresh()];
  return {
    ready: () =>
      deps.bus.ready() && deps.sources.every((s) => s.ready() || roles[s.name] === "standby"),
    roles: () => ({ ...roles }),
    async stop() {
      clearInterval(healthTimer);
      stop.abort();
      await Promise.all(running);
      await Promise.all(deps.sources.map((s) => s.close?.()));
    },
  };
}

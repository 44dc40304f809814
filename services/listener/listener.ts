/**
 * The listener service: one pipeline per configured source, each restarted with back-off when its
 * database or the bus fails. A restart resumes from the source's last confirmed position. Before a
 * source streams, its tables are on the bus's catalog; the catalog is refreshed every
 * `catalogRefreshMs` so tables added or altered later are served too.
 */
import type { Bus } from "../../lib/bus/bus.ts";
import type { Logger } from "../../lib/log.ts";
import type { Registry } from "../../lib/metrics.ts";
import { backoffDelay, classifyFailure, sleep } from "../../lib/retry.ts";
import { CatalogPublisher } from "./catalog_publisher.ts";
import { runPipeline } from "./pipeline.ts";
import type { Source } from "./source.ts";

export interface ListenerDeps {
  sources: readonly Source[];
  bus: Bus;
  topicPrefix: string;
  log: Logger;
  registry: Registry;
  catalogRefreshMs?: number;
}

export interface Listener {
  ready(): boolean;
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
      "synchub_listener_lag_ms",
      "Milliseconds from commit at the source to acceptance by the bus.",
    ),
  };
  const restarts = registry.counter(
    "synchub_listener_restarts_total",
    "Source pipeline restarts after a failure, by kind of failure.",
  );
  const catalog = new CatalogPublisher(deps.bus, deps.topicPrefix, log.child("catalog"));
  const stop = new AbortController();

  const run = async (source: Source) => {
    let attempt = 0;
    while (!stop.signal.aborted) {
      const started = Date.now();
      try {
        await deps.bus.connect(stop.signal); // with Kafka down, wait for it rather than spin
        await catalog.publish(source);
        await runPipeline({ ...deps, source, metrics }, stop.signal);
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
        await sleep(delay, stop.signal);
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
  const running = [...deps.sources.map(run), refresh()];
  return {
    ready: () => deps.bus.ready() && deps.sources.every((s) => s.ready()),
    async stop() {
      stop.abort();
      await Promise.all(running);
      await Promise.all(deps.sources.map((s) => s.close?.()));
    },
  };
}

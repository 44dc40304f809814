/** Builds the listener from configuration and a bus: its sources, its pipelines, its ops port. */
import { Hono } from "hono";
import type { Bus } from "../../lib/bus/bus.ts";
import type { Config } from "../../lib/config.ts";
import { mountOps } from "../../lib/http/ops.ts";
import { serve, type Served } from "../../lib/http/serve.ts";
import type { Logger } from "../../lib/log.ts";
import { Registry } from "../../lib/metrics.ts";
import { startListener } from "./listener.ts";
import { WalSource } from "./postgres/wal_source.ts";
import type { Source } from "./source.ts";

export interface ListenerOptions {
  config: Config;
  databaseUrl: string;
  bus: Bus;
  log: Logger;
}

export function serveListener({ config, databaseUrl, bus, log }: ListenerOptions): Served {
  const sources: Source[] = [
    new WalSource({
      name: config.postgres.sourceName,
      url: databaseUrl,
      slot: config.postgres.slot,
      publication: config.postgres.publication,
      publicationTables: config.postgres.publicationTables,
      bucketColumn: config.bucketColumn,
      log: log.child(config.postgres.sourceName),
    }),
  ];
  for (
    const [variable, value] of [["MYSQL_URL", config.mysqlUrl], ["MONGODB_URL", config.mongodbUrl]]
  ) {
    if (value) {
      log.warn(
        `${variable} is set, but this listener captures PostgreSQL only so far; ignoring it`,
      );
    }
  }
  const registry = new Registry("listener");
  const listener = startListener({ sources, bus, topicPrefix: config.topicPrefix, log, registry });
  const app = new Hono();
  mountOps(app, "listener", registry, () => ({
    bus: bus.ready(),
    ...Object.fromEntries(sources.map((s) => [`source:${s.name}`, s.ready()])),
  }));
  const served = serve("listener", app.fetch, {
    host: config.host,
    port: config.ports.listener,
    portVariable: "LISTENER_PORT",
    log,
  });
  return {
    ...served,
    stop: async () => {
      await listener.stop();
      await served.stop();
    },
  };
}

/**
 * Builds the gateway from configuration and a bus, and serves it. It needs no source database:
 * tables come from the catalog on the bus, snapshots from the listener — in this process when
 * one is given, else over the listener's HTTP port with a service token.
 */
import { stopStep } from "../../lib/shutdown.ts";
import type { AccessPolicy } from "../../lib/access.ts";
import type { Bus } from "../../lib/bus/bus.ts";
import type { Config } from "../../lib/config.ts";
import { serve, type Served } from "../../lib/http/serve.ts";
import { createTokenVerifier, serviceTokens } from "../../lib/jwt.ts";
import type { Logger } from "../../lib/log.ts";
import { Registry } from "../../lib/metrics.ts";
import type { SnapshotReader } from "../../lib/snapshot.ts";
import { HttpSnapshotReader } from "../../lib/snapshot_http.ts";
import { createGateway } from "./gateway.ts";

export interface GatewayOptions {
  config: Config;
  policy: AccessPolicy;
  jwtSecret: string;
  bus: Bus;
  log: Logger;
  /** The listener's snapshots when it runs in this process. */
  snapshots?: SnapshotReader;
}

export function serveGateway(opts: GatewayOptions): Served {
  const { config, log } = opts;
  const gateway = createGateway({
    bus: opts.bus,
    topicPrefix: config.topicPrefix,
    snapshots: opts.snapshots ??
      new HttpSnapshotReader(config.listenerUrl, serviceTokens(opts.jwtSecret, "gateway")),
    verifyToken: createTokenVerifier(opts.jwtSecret),
    policy: opts.policy,
    limits: config.gateway,
    trustProxy: config.crud.trustProxy,
    log,
    registry: new Registry("gateway"),
  });
  const served = serve("gateway", gateway.app.fetch, {
    host: config.host,
    port: config.ports.gateway,
    portVariable: "GATEWAY_PORT",
    log,
  });
  return {
    ...served,
    stop: async () => {
      await stopStep("gateway: subscriptions", () => gateway.stop());
      await stopStep("gateway: http", () => served.stop());
    },
  };
}

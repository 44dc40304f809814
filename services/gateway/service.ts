/**
 * Builds the gateway from configuration and a bus, and serves it. It needs no source database:
 * tables come from the catalog on the bus, snapshots from the listener — in this process when
 * one is given, else over the listener's HTTP port with a service token.
 */
import { stopStep } from "../../lib/shutdown.ts";
import type { AccessPolicy } from "../../lib/access.ts";
import type { Bus } from "../../lib/bus/bus.ts";
import type { Config } from "../../lib/config.ts";
import { listening, type Served, shownHost } from "../../lib/http/serve.ts";
import { createTokenVerifier, serviceTokens } from "../../lib/jwt.ts";
import type { Logger } from "../../lib/log.ts";
import { Registry } from "../../lib/metrics.ts";
import type { SnapshotReader } from "../../lib/snapshot.ts";
import { HttpSnapshotReader } from "../../lib/snapshot_http.ts";
import { createPool } from "../../lib/postgres/pool.ts";
import { DeviceStore } from "../../lib/postgres/devices.ts";
import { createGateway } from "./gateway.ts";

export interface GatewayOptions {
  config: Config;
  policy: AccessPolicy;
  jwtSecret: string;
  bus: Bus;
  log: Logger;
  /** The listener's snapshots when it runs in this process. */
  snapshots?: SnapshotReader;
  /** The hub database, for device subscriptions (SPEC §10); without it they are not served. */
  databaseUrl?: string | undefined;
}

export async function serveGateway(opts: GatewayOptions): Promise<Served> {
  const { config, log } = opts;
  const databaseUrl = opts.databaseUrl ?? config.databaseUrl;
  const pool = databaseUrl
    ? createPool(databaseUrl, { log, max: 4, applicationName: "synchub-gateway" })
    : undefined;
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
    devices: pool && new DeviceStore(pool),
  });
  const at = { host: config.host, port: config.ports.gateway, portVariable: "GATEWAY_PORT" };
  const server = await listening(
    "gateway",
    at,
    () => gateway.listen({ hostname: at.host, port: at.port }),
  );
  const port = server.addr.port;
  const url = `http://${shownHost(config.host)}:${port}`;
  log.info("gateway listening", { url });
  return {
    url,
    port,
    stop: async () => {
      await stopStep("gateway: subscriptions", () => gateway.stop());
      // Sockets got 1001 above; whatever has not closed within 2 s is dropped.
      await stopStep("gateway: sockets", () => server.shutdown(2_000));
      if (pool) await stopStep("gateway: device database pool", () => pool.end());
    },
  };
}

/** Builds the CRUD service from configuration and serves it. */
import type { Config } from "../../lib/config.ts";
import { serve, type Served } from "../../lib/http/serve.ts";
import { createTokenVerifier } from "../../lib/jwt.ts";
import type { Logger } from "../../lib/log.ts";
import { Registry } from "../../lib/metrics.ts";
import { CatalogCache, loadCatalog } from "../../lib/postgres/catalog.ts";
import { createPool } from "../../lib/postgres/pool.ts";
import { createCrudApp } from "./app.ts";
import { IdempotencyStore } from "./idempotency_store.ts";
import { RowStore } from "./row_store.ts";
import { UserStore } from "./users.ts";

export interface CrudOptions {
  config: Config;
  databaseUrl: string;
  jwtSecret: string;
  log: Logger;
  /** `deno task dev` only: mints the demo page's dev token. */
  devToken?: () => Promise<string>;
}

export function serveCrud(
  { config, databaseUrl, jwtSecret, log, devToken }: CrudOptions,
): Served {
  const pool = createPool(databaseUrl, { log, max: 20, applicationName: "synchub-crud" });
  const catalog = new CatalogCache(
    () => loadCatalog(pool, config.postgres.publication, config.bucketColumn, log),
    log,
  );
  const app = createCrudApp({
    store: new RowStore(pool),
    catalog,
    users: new UserStore(pool, config.crud),
    verifyToken: createTokenVerifier(jwtSecret),
    jwtSecret,
    limits: config.crud,
    log,
    registry: new Registry("crud"),
    checks: async () => ({
      database: await pool.query("SELECT 1").then(() => true, () => false),
    }),
    idempotency: new IdempotencyStore(pool), // SPEC §9
    ...(devToken ? { devToken } : {}),
  });
  const served = serve("crud", app.fetch, {
    host: config.host,
    port: config.ports.crud,
    portVariable: "CRUD_PORT",
    log,
  });
  return {
    ...served,
    stop: async () => {
      await served.stop();
      await pool.end();
    },
  };
}

/** Builds the CRUD service from configuration and serves it. */
import { stopStep } from "../../lib/shutdown.ts";
import { type AccessPolicy, bucketColumns } from "../../lib/access.ts";
import type { Config } from "../../lib/config.ts";
import { serve, type Served } from "../../lib/http/serve.ts";
import { createTokenVerifier } from "../../lib/jwt.ts";
import type { Logger } from "../../lib/log.ts";
import { Registry } from "../../lib/metrics.ts";
import { CatalogCache } from "../../lib/catalog.ts";
import { loadCatalog } from "../../lib/postgres/catalog.ts";
import { createPool } from "../../lib/postgres/pool.ts";
import { createCrudApp } from "./app.ts";
import { UserStore } from "./auth/users.ts";
import { IdempotencyStore } from "./idempotency_store.ts";
import { RowStore } from "./rows/row_store.ts";

export interface CrudOptions {
  config: Config;
  policy: AccessPolicy;
  databaseUrl: string;
  jwtSecret: string;
  log: Logger;
  /** `deno task dev` only: mints the demo page's dev token. */
  devToken?: () => Promise<string>;
}

export function serveCrud(
  { config, policy, databaseUrl, jwtSecret, log, devToken }: CrudOptions,
): Served {
  const pool = createPool(databaseUrl, { log, max: 20, applicationName: "synchub-crud" });
  // Each table's effective rule is logged once per catalog load that changes it.
  const described = new Map<string, string>();
  const catalog = new CatalogCache(
    () => loadCatalog(pool, config.postgres.publication, bucketColumns(policy), log),
    (c) => {
      for (const t of c.tables) {
        const line = policy.describe(t);
        if (described.get(t.qualified) !== line) log.info("serving table", { access: line });
        described.set(t.qualified, line);
      }
    },
  );
  const app = createCrudApp({
    store: new RowStore(pool),
    catalog,
    policy,
    users: new UserStore(pool, config.crud),
    verifyToken: createTokenVerifier(jwtSecret),
    jwtSecret,
    limits: config.crud,
    log,
    registry: new Registry("crud"),
    idempotency: new IdempotencyStore(pool), // SPEC §9
    ...(devToken ? { devToken } : {}),
    checks: async () => ({
      database: await pool.query("SELECT 1").then(() => true, () => false),
    }),
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
      await stopStep("crud: http", () => served.stop());
      await stopStep("crud: database pool", () => pool.end());
    },
  };
}

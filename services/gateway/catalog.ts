/**
 * The gateway's catalog: the PostgreSQL publication's tables, and the tables and collections of
 * the MySQL and MongoDB sources. A source that cannot be reached leaves its tables out (logged)
 * rather than the whole catalog.
 */
import type { Config } from "../../lib/config.ts";
import type { Logger } from "../../lib/log.ts";
import { loadMongoCollections } from "../../lib/mongodb/catalog.ts";
import { loadMySqlTables } from "../../lib/mysql/catalog.ts";
import { Catalog, loadCatalog, type TableInfo } from "../../lib/postgres/catalog.ts";
import type { Pool } from "../../lib/postgres/pool.ts";

export async function loadGatewayCatalog(
  pool: Pool,
  config: Config,
  log: Logger,
): Promise<Catalog> {
  const pg = await loadCatalog(
    pool,
    config.postgres.publication,
    config.bucketColumn,
    log,
    config.postgres.sourceName,
  );
  const others = await Promise.all(config.sources.map(async (s): Promise<TableInfo[]> => {
    try {
      return s.connector === "mysql"
        ? await loadMySqlTables(s, config.bucketColumn)
        : await loadMongoCollections(s, config.bucketColumn);
    } catch (err) {
      log.warn("source unreachable: its tables are not served until it is", {
        source: s.name,
        err,
      });
      return [];
    }
  }));
  return new Catalog([...pg.tables, ...others.flat()]);
}

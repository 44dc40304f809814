/** The configured state store (SPEC §8.2): SQLite by default, PostgreSQL or MySQL by URL. */
import type { StateStorageConfig } from "../config.ts";
import { openMySqlStore } from "./mysql.ts";
import { openPostgresStore } from "./postgres.ts";
import { openSqliteStore } from "./sqlite.ts";
import type { StateStore } from "./store.ts";

export function openStateStore(config: StateStorageConfig): Promise<StateStore> {
  switch (config.type) {
    case "sqlite":
      return openSqliteStore(config.path);
    case "postgres":
      return openPostgresStore(config.url);
    case "mysql":
      return openMySqlStore(config.url);
  }
}

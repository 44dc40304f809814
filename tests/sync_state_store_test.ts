/** The state store contract on its three implementations, each against a real database. */
import { openMySqlStore } from "../services/sync/state_store/mysql.ts";
import { openPostgresStore } from "../services/sync/state_store/postgres.ts";
import { openSqliteStore } from "../services/sync/state_store/sqlite.ts";
import { mysqlConnection, withMySql } from "./support/mysql.ts";
import { testDatabase } from "./support/postgres.ts";
import { stateStoreContract } from "./support/state_store_contract.ts";

stateStoreContract({
  name: "sqlite",
  async open() {
    const dir = await Deno.makeTempDir({ prefix: "sync-state-" });
    const path = `${dir}/nested/state.db`;
    return {
      store: await openSqliteStore(path),
      reopen: () => openSqliteStore(path),
      teardown: () => Deno.remove(dir, { recursive: true }),
    };
  },
});

stateStoreContract({
  name: "postgres",
  async open() {
    const db = await testDatabase();
    return {
      store: await openPostgresStore(db.url),
      reopen: () => openPostgresStore(db.url),
      teardown: () => db.drop(),
    };
  },
});

withMySql("state store mysql", (url, { ignore }) => {
  stateStoreContract({
    name: "mysql",
    ignore,
    async open() {
      const name = `state_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`;
      const admin = await mysqlConnection(url);
      await admin.query(`CREATE DATABASE ${name}`);
      const storeUrl = `${url.replace(/\/$/, "")}/${name}`;
      return {
        store: await openMySqlStore(storeUrl),
        reopen: () => openMySqlStore(storeUrl),
        teardown: async () => {
          await admin.query(`DROP DATABASE ${name}`);
          await admin.end();
        },
      };
    },
  });
});

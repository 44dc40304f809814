/**
 * Two databases for the database-to-database sync tests — two MariaDB servers started by
 * `deno task test` (SYNCHUB_TEST_MYSQL_URL, SYNCHUB_TEST_MYSQL2_URL) or two PostgreSQL
 * databases — and a SyncContext over them with a SQLite state store in a temporary directory.
 */
import mysql from "mysql2/promise";
import { silentLogger } from "../../lib/log.ts";
import { type Side, validateSyncConfig } from "../../services/sync/config.ts";
import type { SyncContext } from "../../services/sync/context.ts";
import { openDatabase } from "../../services/sync/engine/open.ts";
import { openSqliteStore } from "../../services/sync/state_store/sqlite.ts";
import { mysqlConnection } from "./mysql.ts";
import { testDatabase } from "./postgres.ts";

export interface SideDb {
  readonly url: string;
  readonly engine: "mysql" | "postgres";
  /** Runs SQL (several statements allowed) and returns the rows of the last one. */
  sql(text: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  drop(): Promise<void>;
}

export function mysqlUrls(): [string, string] | undefined {
  const a = Deno.env.get("SYNCHUB_TEST_MYSQL_URL");
  const b = Deno.env.get("SYNCHUB_TEST_MYSQL2_URL");
  return a && b ? [a, b] : undefined;
}

/**
 * Registers tests needing two MariaDB servers: as ignored (never as passed) when they are not
 * there, with one loud line saying why.
 */
export function withTwoMySql(name: string, body: (ignore: boolean) => void): void {
  const here = mysqlUrls() !== undefined;
  if (!here) {
    console.error(
      `\n!! IGNORED: ${name} needs two MariaDB servers (SYNCHUB_TEST_MYSQL_URL and ` +
        "SYNCHUB_TEST_MYSQL2_URL): install mariadb-server and run `deno task test`, which starts them\n",
    );
  }
  body(!here);
}

export async function mysqlSide(server: string): Promise<SideDb> {
  const name = `sync_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`;
  const admin = await mysqlConnection(server);
  await admin.query(`CREATE DATABASE ${name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  const conn = await mysqlConnection(server, name);
  await conn.query("SET time_zone = '+00:00'");
  return {
    url: `${server.replace(/\/$/, "")}/${name}`,
    engine: "mysql",
    async sql(text, params) {
      const [result] = await conn.query({ sql: text, values: params });
      const multi = Array.isArray(result) &&
        result.some((r) => Array.isArray(r) || (typeof r === "object" && "affectedRows" in r));
      const parts: unknown[] = multi ? result : [result];
      return (parts.findLast(Array.isArray) ?? []) as Record<string, unknown>[];
    },
    async drop() {
      await conn.end();
      await admin.query(`DROP DATABASE ${name}`);
      await admin.end();
    },
  };
}

export async function postgresSide(): Promise<SideDb> {
  const db = await testDatabase();
  return {
    url: db.url,
    engine: "postgres",
    sql: (text, params) => db.sql(text, params),
    drop: () => db.drop(),
  };
}

export interface Harness {
  readonly ctx: SyncContext;
  close(): Promise<void>;
}

/** A context over the two sides with the given `sync` section (tables, mode, batch_size, …). */
export async function harness(
  sides: Record<Side, SideDb>,
  sync: Record<string, unknown>,
): Promise<Harness> {
  const dir = await Deno.makeTempDir({ prefix: "sync-test-" });
  const config = validateSyncConfig({
    databases: { local: { url: sides.local.url }, cloud: { url: sides.cloud.url } },
    state_storage: { type: "sqlite", path: `${dir}/state.db` },
    sync: { mode: "local_to_cloud", ...sync },
  }, {});
  const opts = { connections: config.sync.workers + 1, log: silentLogger };
  const local = await openDatabase("local", sides.local.url, opts);
  const cloud = await openDatabase("cloud", sides.cloud.url, opts);
  await local.ensureMarkerTable();
  await cloud.ensureMarkerTable();
  const store = await openSqliteStore(
    config.state_storage.type === "sqlite" ? config.state_storage.path : "",
  );
  return {
    ctx: { config, databases: { local, cloud }, store, log: silentLogger },
    async close() {
      await Promise.all([local.close(), cloud.close(), store.close()]);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

export { mysql };

import type { Row } from "../../lib/envelope.ts";
import { hashSpec, keyString, rowHash } from "../../services/sync/row_hash.ts";

/** Every row of a table on one side as `key → hash of all columns` (small tables only). */
export async function digest(
  ctx: SyncContext,
  side: Side,
  table: string,
): Promise<Map<string, string>> {
  const db = ctx.databases[side];
  const shape = await db.describe({ name: table, primary_key: undefined });
  const spec = hashSpec(shape, { ignore_columns: [] });
  const out = new Map<string, string>();
  let after: Row | null = null;
  for (;;) {
    const rows: Row[] = await db.readPage(shape, after, 1000);
    if (rows.length === 0) return out;
    for (const r of rows) out.set(keyString(r, spec), rowHash(r, spec));
    const last: Row = rows.at(-1)!;
    after = Object.fromEntries(shape.primaryKey.map((k) => [k, last[k] ?? null]));
  }
}

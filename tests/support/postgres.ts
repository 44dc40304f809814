/**
 * A fresh, migrated database per test on the PostgreSQL server the test run started
 * (`SYNCHUB_TEST_PG_URL`, set by `deno task test`). Run outside the task, the first test that
 * needs one starts an embedded server itself and stops it when the process ends.
 */
import pg from "pg";
import { loadConfig } from "../../lib/config.ts";
import { freePort } from "../../tools/servers/process.ts";
import { createLogger, silentLogger } from "../../lib/log.ts";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "../../tools/servers/postgres.ts";
import { migrate } from "../../lib/postgres/migrate.ts";

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** Runs one statement on a short-lived connection. */
  sql<T extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    params?: unknown[],
  ): Promise<T[]>;
  drop(): Promise<void>;
}

let server: Promise<string> | undefined;

export function serverUrl(): Promise<string> {
  const fromTask = Deno.env.get("SYNCHUB_TEST_PG_URL");
  if (fromTask) return Promise.resolve(fromTask);
  return server ??= startOwnServer();
}

async function startOwnServer(): Promise<string> {
  console.error("SYNCHUB_TEST_PG_URL is not set: starting an embedded PostgreSQL for this process");
  const dir = await Deno.makeTempDir({ prefix: "synchub-test-" });
  await Deno.chmod(dir, 0o755);
  const port = freePort();
  const db: EmbeddedPostgres = await startEmbeddedPostgres({
    dataDir: `${dir}/pg`,
    port,
    cacheDir: loadConfig().cacheDir,
    log: createLogger("test-postgres", "warn"),
    fast: true,
  });
  globalThis.addEventListener("unload", () => {
    // Synchronous teardown: the server also gets SIGINT through its parent-death signal.
    Deno.removeSync(dir, { recursive: true });
  });
  return db.url();
}

export async function testDatabase(opts: { publication?: string } = {}): Promise<TestDatabase> {
  const admin = await serverUrl();
  const name = `t_${crypto.randomUUID().replace(/-/g, "").slice(0, 16)}`;
  await withClient(admin, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = admin.replace(/\/[^/]*$/, `/${name}`);
  await migrate(url, {
    publication: opts.publication ?? "synchub",
    publicationTables: undefined,
    log: silentLogger,
  });
  return {
    name,
    url,
    sql: (text, params) => withClient(url, async (c) => (await c.query(text, params)).rows),
    drop: () =>
      withClient(admin, async (c) => {
        await c.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
          [name],
        );
        // A database cannot go while a replication slot still lives in it.
        for (let i = 0; i < 50; i++) {
          const slots = await c.query(
            "SELECT slot_name, active FROM pg_replication_slots WHERE database = $1",
            [name],
          );
          if (slots.rowCount === 0) break;
          for (const s of slots.rows) {
            await c.query("SELECT pg_drop_replication_slot($1)", [s.slot_name]).catch(() => {});
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      }),
  };
}

export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  c.on("error", () => {});
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

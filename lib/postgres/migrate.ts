/**
 * Applies `migrations/*.sql` in name order, each once and in its own transaction, under an
 * advisory lock so services starting together do not race. Then makes sure the sync publication
 * exists and carries the demo table.
 */
import pg from "pg";
import type { Logger } from "../log.ts";
import { ensurePublication, ensurePublished } from "./publication.ts";

const MIGRATIONS_DIR = new URL("../../migrations/", import.meta.url);
const LOCK_KEY = 0x5359_4e43; // "SYNC"

export interface MigrateOptions {
  publication: string;
  publicationTables: readonly string[] | undefined;
  log: Logger;
}

export async function migrate(url: string, opts: MigrateOptions): Promise<string[]> {
  const client = new pg.Client({ connectionString: url, application_name: "synchub-migrate" });
  client.on("error", () => {});
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [LOCK_KEY]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS synchub;
      CREATE TABLE IF NOT EXISTS synchub.schema_migrations (
        version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set(
      (await client.query<{ version: string }>("SELECT version FROM synchub.schema_migrations"))
        .rows.map((r) => r.version),
    );
    const applied: string[] = [];
    for (const file of await migrationFiles()) {
      const version = file.replace(/\.sql$/, "");
      if (done.has(version)) continue;
      const sql = await Deno.readTextFile(new URL(file, MIGRATIONS_DIR));
      await client.query("BEGIN");
      try {
        await client.query(sql);
        await client.query("INSERT INTO synchub.schema_migrations (version) VALUES ($1)", [
          version,
        ]);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK");
        throw new Error(`migration ${file} failed: ${(err as Error).message}`);
      }
      applied.push(version);
      opts.log.info("applied migration", { version });
    }
    const created = await ensurePublication(client, opts.publication, opts.publicationTables);
    if (created === "created") {
      opts.log.info("created publication", { publication: opts.publication });
    }
    await ensurePublished(client, opts.publication, "public", "todos");
    return applied;
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [LOCK_KEY]).catch(() => {});
    await client.end();
  }
}

async function migrationFiles(): Promise<string[]> {
  const files: string[] = [];
  for await (const e of Deno.readDir(MIGRATIONS_DIR)) {
    if (e.isFile && /^\d+_[\w-]+\.sql$/.test(e.name)) files.push(e.name);
  }
  return files.sort();
}

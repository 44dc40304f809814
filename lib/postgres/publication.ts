/** The sync publication: which tables SyncHub captures and serves. */
import type pg from "pg";
import { quoteIdent } from "./pool.ts";

type Queryable = Pick<pg.ClientBase, "query">;

/**
 * Creates the publication when it is missing: for the configured tables, or else for every table
 * of schema `public` (tables created there later are included too). An existing publication is
 * left as its owner made it.
 */
export async function ensurePublication(
  db: Queryable,
  name: string,
  tables: readonly string[] | undefined,
): Promise<"created" | "exists"> {
  const found = await db.query("SELECT 1 FROM pg_publication WHERE pubname = $1", [name]);
  if ((found.rowCount ?? 0) > 0) return "exists";
  const target = tables?.length
    ? `FOR TABLE ${tables.map(qualifiedIdent).join(", ")}`
    : "FOR TABLES IN SCHEMA public";
  try {
    await db.query(`CREATE PUBLICATION ${quoteIdent(name)} ${target}`);
  } catch (err) {
    // Two services starting together may both try; the loser finds it made.
    if ((err as { code?: string }).code !== "42710") throw err;
  }
  return "created";
}

/** Adds a table to the publication unless the publication already covers it. */
export async function ensurePublished(
  db: Queryable,
  publication: string,
  schema: string,
  table: string,
) {
  const found = await db.query(
    "SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3",
    [publication, schema, table],
  );
  if ((found.rowCount ?? 0) > 0) return;
  await db.query(
    `ALTER PUBLICATION ${quoteIdent(publication)} ADD TABLE ${
      qualifiedIdent(`${schema}.${table}`)
    }`,
  );
}

function qualifiedIdent(qualified: string): string {
  const [schema, table] = qualified.split(".");
  return `${quoteIdent(schema!)}.${quoteIdent(table!)}`;
}

/** A MongoDB source's collections as schemaless catalog entries (`db.coll`). */
import { MongoClient } from "mongodb";
import type { BucketColumns } from "../../../lib/access.ts";
import type { TableInfo } from "../../../lib/catalog.ts";

export async function loadMongoCollections(
  source: { name: string; url: string; tables: readonly string[] | undefined },
  bucketColumns: BucketColumns,
): Promise<TableInfo[]> {
  const db = new URL(source.url).pathname.replace(/^\//, "");
  let names = source.tables ? [...source.tables] : undefined;
  if (!names) {
    const client = new MongoClient(source.url, { serverSelectionTimeoutMS: 5_000 });
    try {
      await client.connect();
      names = (await client.db(db).listCollections({}, { nameOnly: true }).toArray()).map((c) =>
        c.name
      );
    } finally {
      await client.close().catch(() => {});
    }
  }
  return names.map((name) => ({
    schema: db,
    name,
    qualified: `${db}.${name}`,
    columns: [],
    column: new Map(),
    primaryKey: ["_id"],
    // Schemaless: every field may be there.
    bucketColumn: bucketColumns(`${db}.${name}`, () => true),
    replicaIdentity: "full" as const,
    source: source.name,
    connector: "mongodb" as const,
    schemaless: true,
  }));
}

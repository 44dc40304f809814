/**
 * Which tables a bucket's reader gets (checkpoints, bucket data): the access policy decides,
 * through lib/access.ts only. A bucket's rows are the rows whose bucket column holds it, in
 * tables whose rule lets the principal read that bucket. Tables named explicitly must all be
 * readable (else 403, or 404 where the policy hides them); without names, every such table.
 */
import {
  type AccessPolicy,
  inScope,
  type Principal,
  readScope,
  tableRefusal,
} from "../../../lib/access.ts";
import type { CatalogSource, TableInfo } from "../../../lib/catalog.ts";
import { SyncError } from "../../../lib/errors.ts";
import type { BucketTable } from "../../../lib/postgres/bucket_reader.ts";

export async function bucketTables(
  deps: { catalog: CatalogSource; policy: AccessPolicy },
  principal: Principal,
  bucket: string,
  names?: readonly string[],
): Promise<BucketTable[]> {
  const catalog = await deps.catalog.get().catch(() => {
    throw new SyncError("unavailable", "the database is unreachable; retry later");
  });
  if (names !== undefined) {
    const out: BucketTable[] = [];
    for (const name of new Set(names)) {
      const table = await deps.catalog.table(name);
      if (!table) throw new SyncError("not_found", `unknown table "${name}"`);
      const readable = readableBucket(deps.policy, principal, table, bucket);
      if (readable instanceof SyncError) throw readable;
      if (!out.some((t) => t.table === table)) out.push(readable);
    }
    return out;
  }
  const all = catalog.tables.map((t) => readableBucket(deps.policy, principal, t, bucket));
  const readable = all.filter((t): t is BucketTable => !(t instanceof SyncError));
  // A bucket the token holds in no table is refused, not answered with nothing.
  if (readable.length === 0 && all.some((t) => t instanceof SyncError && t.code === "forbidden")) {
    throw new SyncError("forbidden", `the token may not read bucket "${bucket}"`);
  }
  return readable.sort((a, b) => a.table.qualified.localeCompare(b.table.qualified));
}

/** The table with its bucket column when the principal may read the bucket there, else why not. */
function readableBucket(
  policy: AccessPolicy,
  principal: Principal,
  table: TableInfo,
  bucket: string,
): BucketTable | SyncError {
  const rule = policy.rule(table);
  const refusal = tableRefusal(principal, rule, table.qualified, "read");
  if (refusal) return refusal;
  if (rule.bucketColumn === null) {
    return new SyncError("bad_request", `${table.qualified} has no bucket column`);
  }
  const scope = readScope(principal, rule);
  if (!scope || !inScope(scope, { known: true, bucket })) {
    return new SyncError(
      "forbidden",
      `the token may not read bucket "${bucket}" of ${table.qualified}`,
    );
  }
  return { table, bucketColumn: rule.bucketColumn };
}

/**
 * `?tables=a,b` (or repeated `?tables=`) as names, each exactly a table's name (an empty one
 * names no table); undefined when absent (every table).
 */
export function tableNames(values: readonly string[]): string[] | undefined {
  return values.length === 0 ? undefined : values.flatMap((v) => v.split(","));
}

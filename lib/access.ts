/**
 * The access policy (SPEC §7, §5.3) as pure decisions: who reads and who writes each table, and
 * which of its rows. One module for every path — REST rows and batches, WebSocket subscribe,
 * snapshots, live changes and history, checkpoints and bucket data — so a rule lives once.
 *
 * Rules: `admin` (claim `role: "admin"`), `authenticated` (any valid token), `bucket` (rows whose
 * bucket is in the token's `buckets`; `"*"` = every bucket), `none`. Admins may do everything; a
 * `"*"` token is not an admin. Rows whose bucket is null are for admins and `"*"` tokens unless the
 * table says `null_bucket: shared`; a row whose bucket cannot be determined (its bucket column is
 * missing from the row image) belongs to no one: admins and `"*"` tokens only.
 */
import { bucketValue } from "./buckets.ts";
import type { TableInfo } from "./catalog.ts";
import { SyncError } from "./errors.ts";

export type Rule = "admin" | "authenticated" | "bucket" | "none";
export const RULES = ["admin", "authenticated", "bucket", "none"] as const;

/** A table's effective rule, after the policy file and the defaults. */
export interface TableRule {
  readonly read: Rule;
  readonly write: Rule;
  /** The column naming each row's bucket; null when the table has none. */
  readonly bucketColumn: string | null;
  /** Null-bucket rows readable by every token allowed to read the table. */
  readonly sharedNullBucket: boolean;
  /** A refused reader is told the table does not exist (404), not that it may not read it. */
  readonly hidden: boolean;
  /** Why: `policy` (listed in the file), `default` (the file's default), `built-in`. */
  readonly from: "policy" | "default" | "built-in";
}

/** Who is asking, as the token says. */
export interface Principal {
  readonly sub: string;
  readonly admin: boolean;
  /** Holds `"*"`: every bucket of `bucket` tables (not an admin). */
  readonly all: boolean;
  readonly buckets: ReadonlySet<string>;
}

export function principalOf(claims: {
  sub: string;
  buckets: readonly string[];
  role?: string | undefined;
}): Principal {
  return {
    sub: claims.sub,
    admin: claims.role === "admin",
    all: claims.buckets.includes("*"),
    buckets: new Set(claims.buckets.filter((b) => b !== "*")),
  };
}

/** Which rows a reader may see (pushed down into SQL by snapshot and list queries). */
export interface RowScope {
  /** Every row, whatever its bucket. */
  readonly all: boolean;
  /** Otherwise: rows of these buckets… */
  readonly buckets: readonly string[];
  /** …and rows whose bucket is null. */
  readonly nullBucket: boolean;
}

/** The rows of the table the principal may read, or null when it may not read the table. */
export function readScope(p: Principal, rule: TableRule): RowScope | null {
  const every = { all: true, buckets: [], nullBucket: true };
  if (p.admin) return every;
  switch (rule.read) {
    case "authenticated":
      return every;
    case "bucket":
      if (rule.bucketColumn === null) return null; // a bucket rule without buckets: nobody
      return p.all ? every : {
        all: false,
        buckets: [...p.buckets],
        nullBucket: rule.sharedNullBucket,
      };
    default:
      return null;
  }
}

/**
 * The bucket of a row image: `known: false` when the bucket column is missing from it (a MINIMAL
 * or TOAST-less image, a MongoDB update without its document).
 */
export function bucketOf(
  rule: TableRule,
  row: Readonly<Record<string, unknown>>,
): { known: boolean; bucket: string | null } {
  if (rule.bucketColumn === null) return { known: true, bucket: null };
  if (!Object.hasOwn(row, rule.bucketColumn)) return { known: false, bucket: null };
  return { known: true, bucket: bucketValue(row[rule.bucketColumn]) };
}

/** May the holder of `scope` read a row of this bucket? An unknown bucket is no one's. */
export function inScope(
  scope: RowScope,
  bucket: { known: boolean; bucket: string | null },
): boolean {
  if (scope.all) return true;
  if (!bucket.known) return false;
  return bucket.bucket === null ? scope.nullBucket : scope.buckets.includes(bucket.bucket);
}

/** May the principal write (insert into, change, delete from) a row of this bucket? */
export function canWrite(p: Principal, rule: TableRule, bucket: string | null): boolean {
  if (p.admin) return true;
  switch (rule.write) {
    case "authenticated":
      return true;
    case "bucket":
      if (rule.bucketColumn === null) return false;
      return p.all || (bucket !== null && p.buckets.has(bucket));
    default:
      return false;
  }
}

/** May the principal write the table at all (some bucket of it)? */
export function canWriteTable(p: Principal, rule: TableRule): boolean {
  return p.admin || rule.write === "authenticated" ||
    (rule.write === "bucket" && rule.bucketColumn !== null);
}

/**
 * The refusal for a table the principal may not read (or write): `forbidden`, or `not_found`
 * where the policy hides the table. Null when allowed.
 */
export function tableRefusal(
  p: Principal,
  rule: TableRule,
  table: string,
  action: "read" | "write",
): SyncError | null {
  const allowed = action === "read" ? readScope(p, rule) !== null : canWriteTable(p, rule);
  if (allowed) return null;
  if (rule.hidden && (action === "read" || readScope(p, rule) === null)) {
    return new SyncError("not_found", `unknown table "${table}"`);
  }
  return new SyncError("forbidden", `the token may not ${action} ${table}`);
}

/** The bucket a new row goes to when the body names none: the token's only bucket, if it has one. */
export function defaultBucket(p: Principal): string | null {
  if (p.all || p.admin || p.buckets.size !== 1) return null;
  return p.buckets.values().next().value ?? null;
}

/** What the policy needs to know of a table: its name and which columns it has. */
export type TableShape = Pick<TableInfo, "qualified" | "schemaless"> & {
  readonly column: { has(name: string): boolean };
};

/** The effective rule of each table; built from the policy file (lib/access_policy.ts). */
export interface AccessPolicy {
  rule(table: TableShape): TableRule;
  /** One line per table saying its effective rule, for the start-up log. */
  describe(table: TableShape): string;
}

/**
 * The bucket column of a table, given its name and a test of which columns it has: what sources
 * compute an envelope's `bucket` and a catalog entry's `bucketColumn` with.
 */
export type BucketColumns = (table: string, has: (column: string) => boolean) => string | null;

export function bucketColumns(policy: AccessPolicy): BucketColumns {
  return (qualified, has) => policy.rule({ qualified, column: { has } }).bucketColumn;
}

/** One bucket column for every table that has it (no policy file). */
export function columnNamed(name: string): BucketColumns {
  return (_table, has) => has(name) ? name : null;
}

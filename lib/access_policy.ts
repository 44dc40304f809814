/**
 * The access policy file (SPEC §7): YAML, named by ACCESS_POLICY (default `access.yaml` in the
 * working directory, optional), validated at start-up with every problem named at once. Without
 * a file: tables with a bucket column get `bucket`, all others are admin-only.
 *
 * ```yaml
 * default: deny                 # tables not listed: deny (admin only) | bucket
 * tables:
 *   public.todos:    { read: bucket, write: bucket }
 *   shop.orders:     { read: bucket, write: bucket, bucket_column: tenant_id }
 *   public.products: { read: authenticated, write: admin }
 *   public.notes:    { read: bucket, write: bucket, null_bucket: shared, hidden: true }
 * ```
 */
import { parse } from "yaml";
import { z } from "zod";
import { type AccessPolicy, RULES, type TableRule, type TableShape } from "./access.ts";

const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/, "a column name");

const tableSchema = z.strictObject({
  read: z.enum(RULES),
  write: z.enum(RULES),
  bucket_column: identifier.optional(),
  null_bucket: z.enum(["private", "shared"]).optional(),
  hidden: z.boolean().optional(),
});

const fileSchema = z.strictObject({
  default: z.enum(["deny", "bucket"]).default("deny"),
  tables: z.record(z.string(), z.unknown()).default({}),
});

export interface PolicySpec {
  default: "deny" | "bucket";
  tables: Record<string, z.infer<typeof tableSchema>>;
}

const TABLE_NAME = /^[^.\s]+\.[^.\s]+$/;

export class PolicyError extends Error {
  constructor(readonly file: string, readonly problems: string[]) {
    super(
      `invalid access policy ${file}:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
    this.name = "PolicyError";
  }
}

/** Parses and validates a policy file's text; throws a PolicyError naming every problem. */
export function parsePolicy(text: string, file = "access policy"): PolicySpec {
  let raw: unknown;
  try {
    raw = parse(text) ?? {};
  } catch (err) {
    throw new PolicyError(file, [`not valid YAML: ${(err as Error).message.split("\n")[0]}`]);
  }
  const problems: string[] = [];
  const report = (issues: z.core.$ZodIssue[], prefix: string[] = []) => {
    for (const i of issues) {
      const path = [...prefix, ...i.path.map(String)].join(".") || "(file)";
      const what = i.code === "unrecognized_keys"
        ? `unknown key(s) ${i.keys.join(", ")}`
        : i.message;
      problems.push(`${path}: ${what}`);
    }
  };
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) report(parsed.error.issues);
  // Each table on its own, so one bad entry does not hide the problems of another.
  const tables: PolicySpec["tables"] = {};
  const entries = typeof raw === "object" && raw !== null &&
      typeof (raw as { tables?: unknown }).tables === "object"
    ? Object.entries((raw as { tables: Record<string, unknown> }).tables ?? {})
    : [];
  for (const [name, value] of entries) {
    if (!TABLE_NAME.test(name)) {
      problems.push(`tables.${name}: tables are named schema.table or db.table`);
    }
    const t = tableSchema.safeParse(value);
    if (t.success) tables[name] = t.data;
    else report(t.error.issues, ["tables", name]);
  }
  if (problems.length > 0 || !parsed.success) throw new PolicyError(file, problems);
  return { default: parsed.data.default, tables };
}

/**
 * Reads the policy file. A missing file at the default path means "no policy" (the built-in
 * rules); a missing file that was named explicitly is an error.
 */
export async function loadPolicy(
  path: string | undefined,
  defaultPath = "access.yaml",
): Promise<PolicySpec | undefined> {
  const file = path ?? defaultPath;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound && path === undefined) return undefined;
    throw new PolicyError(file, [`cannot be read: ${(err as Error).message}`]);
  }
  return parsePolicy(text, file);
}

/** The effective rules of a policy (or of none), for tables as the catalog describes them. */
export function accessPolicy(
  spec: PolicySpec | undefined,
  defaultBucketColumn: string,
): AccessPolicy {
  const rule = (table: TableShape): TableRule => {
    const has = (c: string) => table.schemaless === true || table.column.has(c);
    const listed = spec?.tables[table.qualified];
    if (listed) {
      const column = listed.bucket_column ?? defaultBucketColumn;
      return {
        read: listed.read,
        write: listed.write,
        bucketColumn: has(column) ? column : null,
        sharedNullBucket: listed.null_bucket === "shared",
        hidden: listed.hidden ?? false,
        from: "policy",
      };
    }
    const bucketed = has(defaultBucketColumn) &&
      (spec === undefined || spec.default === "bucket");
    return {
      read: bucketed ? "bucket" : "admin",
      write: bucketed ? "bucket" : "admin",
      bucketColumn: has(defaultBucketColumn) ? defaultBucketColumn : null,
      sharedNullBucket: false,
      hidden: false,
      from: spec ? "default" : "built-in",
    };
  };
  return {
    rule,
    describe(table) {
      const r = rule(table);
      const problem = (r.read === "bucket" || r.write === "bucket") && r.bucketColumn === null
        ? " — NO BUCKET COLUMN: bucket access denied to everyone but admins"
        : "";
      return `${table.qualified}: read ${r.read}, write ${r.write}` +
        (r.bucketColumn ? `, bucket column ${r.bucketColumn}` : "") +
        (r.sharedNullBucket ? ", null bucket shared" : "") +
        (r.hidden ? ", hidden" : "") + ` (${r.from})${problem}`;
    },
  };
}

/** The policy a service runs with: ACCESS_POLICY's file (or access.yaml, or none) and BUCKET_COLUMN. */
export async function policyFromConfig(
  config: { accessPolicyPath: string | undefined; bucketColumn: string },
): Promise<AccessPolicy> {
  return accessPolicy(await loadPolicy(config.accessPolicyPath), config.bucketColumn);
}

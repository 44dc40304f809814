import assert from "node:assert/strict";
import { tableInfo } from "../tests/support/tables.ts";
import {
  bucketOf,
  canWrite,
  defaultBucket,
  inScope,
  principalOf,
  readScope,
  tableRefusal,
  type TableRule,
} from "./access.ts";
import { accessPolicy, parsePolicy, PolicyError } from "./access_policy.ts";

const todos = tableInfo("public.todos", { id: "uuid", bucket: "string", title: "string" });
const payroll = tableInfo("public.payroll", { id: "uuid", salary: "integer" }, {
  bucketColumn: null,
});
const orders = tableInfo("shop.orders", { id: "integer", tenant_id: "string" }, {
  bucketColumn: null,
});
const notes = tableInfo("public.notes", { id: "uuid", bucket: "string" });

const user = principalOf({ sub: "u", buckets: ["a"] });
const star = principalOf({ sub: "s", buckets: ["*"] });
const admin = principalOf({ sub: "x", buckets: [], role: "admin" });
const nobody = principalOf({ sub: "n", buckets: [] });

Deno.test("without a policy file: bucket tables by bucket, the rest admin-only", () => {
  const policy = accessPolicy(undefined, "bucket");
  const t = policy.rule(todos), p = policy.rule(payroll);
  assert.deepEqual([t.read, t.write, t.bucketColumn], ["bucket", "bucket", "bucket"]);
  assert.deepEqual([p.read, p.write], ["admin", "admin"]);
  // The leak of the issue: a fresh account reads nothing of a table without a bucket column.
  assert.equal(readScope(nobody, p), null);
  assert.equal(readScope(star, p), null, "a '*' token is not an admin");
  assert.deepEqual(readScope(admin, p), { all: true, buckets: [], nullBucket: true });
  assert.equal(tableRefusal(nobody, p, "public.payroll", "read")?.code, "forbidden");
});

Deno.test("bucket rows: own buckets only; null buckets for admins and '*' unless shared", () => {
  const policy = accessPolicy(
    parsePolicy(`tables:\n  public.notes: { read: bucket, write: bucket, null_bucket: shared }`),
    "bucket",
  );
  const t = accessPolicy(undefined, "bucket").rule(todos);
  const scope = readScope(user, t)!;
  assert.equal(inScope(scope, { known: true, bucket: "a" }), true);
  assert.equal(inScope(scope, { known: true, bucket: "b" }), false);
  assert.equal(inScope(scope, { known: true, bucket: null }), false, "null bucket is private");
  assert.equal(inScope(readScope(star, t)!, { known: true, bucket: null }), true);
  const shared = readScope(user, policy.rule(notes))!;
  assert.equal(inScope(shared, { known: true, bucket: null }), true);
});

Deno.test("a row whose bucket cannot be determined belongs to no one", () => {
  const t = accessPolicy(undefined, "bucket").rule(todos);
  const unknown = bucketOf(t, { id: "1", title: "no bucket column in this image" });
  assert.deepEqual(unknown, { known: false, bucket: null });
  assert.equal(inScope(readScope(user, t)!, unknown), false);
  assert.equal(
    inScope(readScope(principalOf({ sub: "n", buckets: ["a"] }), t)!, unknown),
    false,
  );
  assert.equal(inScope(readScope(star, t)!, unknown), true);
  assert.equal(inScope(readScope(admin, t)!, unknown), true);
});

Deno.test("writes: the rule, the bucket; admins everything", () => {
  const policy = accessPolicy(
    parsePolicy(`
default: deny
tables:
  public.products: { read: authenticated, write: admin }
  shop.orders: { read: bucket, write: bucket, bucket_column: tenant_id }
`),
    "bucket",
  );
  const products = policy.rule(tableInfo("public.products", { id: "integer" }, {
    bucketColumn: null,
  }));
  assert.deepEqual(readScope(nobody, products), { all: true, buckets: [], nullBucket: true });
  assert.equal(canWrite(user, products, null), false);
  assert.equal(canWrite(admin, products, null), true);
  const o = policy.rule(orders);
  assert.equal(o.bucketColumn, "tenant_id");
  assert.deepEqual(bucketOf(o, { id: 1, tenant_id: "a" }), { known: true, bucket: "a" });
  assert.equal(canWrite(user, o, "a"), true);
  assert.equal(canWrite(user, o, "b"), false);
  assert.equal(canWrite(user, o, null), false);
  assert.equal(canWrite(star, o, "zzz"), true);
  // Listed nowhere, default deny: admin-only even with a bucket column.
  assert.equal(readScope(user, policy.rule(todos)), null);
  assert.equal(readScope(admin, policy.rule(todos))?.all, true);
});

Deno.test("hidden tables are refused as not found; 'none' is nobody's but admins'", () => {
  const policy = accessPolicy(
    parsePolicy(`tables:\n  public.payroll: { read: none, write: none, hidden: true }`),
    "bucket",
  );
  const p: TableRule = policy.rule(payroll);
  assert.equal(tableRefusal(star, p, "public.payroll", "read")?.code, "not_found");
  assert.equal(tableRefusal(admin, p, "public.payroll", "read"), null);
  assert.equal(defaultBucket(user), "a");
  assert.equal(defaultBucket(star), null);
});

Deno.test("an invalid policy names every problem at once", () => {
  const bad = `
default: maybe
tables:
  todos: { read: bucket, write: everyone }
  public.x: { read: admin, write: admin, colour: red }
`;
  assert.throws(() => parsePolicy(bad, "access.yaml"), (err: unknown) => {
    assert.ok(err instanceof PolicyError);
    const text = err.message;
    assert.match(text, /default/);
    assert.match(text, /todos.*schema\.table/);
    assert.match(text, /write/);
    assert.match(text, /colour/);
    assert.equal(err.problems.length >= 4, true, text);
    return true;
  });
  assert.throws(() => parsePolicy("tables: [1, 2"), /not valid YAML/);
});

Deno.test("each table's effective rule is described in one line", () => {
  const policy = accessPolicy(undefined, "bucket");
  assert.equal(
    policy.describe(todos),
    "public.todos: read bucket, write bucket, bucket column bucket (built-in)",
  );
  assert.equal(policy.describe(payroll), "public.payroll: read admin, write admin (built-in)");
});

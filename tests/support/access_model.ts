/**
 * The access rules of SPEC §7 written out again, independently of lib/access.ts, as the oracle of
 * the cross-bucket probe: who may read and write which row of the probe's tables, the rows each
 * user should see, and the tables' current rows as the probe's writes left them.
 */

export type Bucket = string | null;

export interface ProbeUser {
  name: string;
  buckets: string[];
  admin: boolean;
}

export interface ProbeRow {
  id: string;
  bucket: Bucket;
  v: number;
}

/** The probe's tables: a bucket table, one whose null-bucket rows are shared, an admin-only one. */
export type ProbeTable = "items" | "notes" | "payroll";
export const TABLES: readonly ProbeTable[] = ["items", "notes", "payroll"];

export const POLICY = `default: deny
tables:
  public.items: { read: bucket, write: bucket }
  public.notes: { read: bucket, write: bucket, null_bucket: shared }
`;

export const SETUP_SQL = `
CREATE TABLE items (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), bucket text, v int NOT NULL);
CREATE TABLE notes (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), bucket text, v int NOT NULL);
CREATE TABLE payroll (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), v int NOT NULL);
ALTER TABLE items REPLICA IDENTITY FULL;
ALTER TABLE notes REPLICA IDENTITY FULL;
ALTER TABLE payroll REPLICA IDENTITY FULL;`;

/** SPEC §7: admins read everything; `*` every bucket; null rows only where shared. */
export function mayRead(u: ProbeUser, table: ProbeTable, bucket: Bucket): boolean {
  if (u.admin) return true;
  if (table === "payroll") return false;
  if (u.buckets.includes("*")) return true;
  if (bucket === null) return table === "notes";
  return u.buckets.includes(bucket);
}

/** May the user read the table at all (subscribe, list)? */
export function mayReadTable(u: ProbeUser, table: ProbeTable): boolean {
  return u.admin || table !== "payroll";
}

/** Writing a row of `bucket`: a null bucket is no one's to write but admins' and `*` tokens'. */
export function mayWrite(u: ProbeUser, table: ProbeTable, bucket: Bucket): boolean {
  if (u.admin) return true;
  if (table === "payroll") return false;
  if (u.buckets.includes("*")) return true;
  return bucket !== null && u.buckets.includes(bucket);
}

/** The tables' rows as the probe's accepted writes left them. */
export class ProbeState {
  readonly rows: Record<ProbeTable, Map<string, ProbeRow>> = {
    items: new Map(),
    notes: new Map(),
    payroll: new Map(),
  };

  visible(u: ProbeUser, table: ProbeTable): ProbeRow[] {
    return [...this.rows[table].values()].filter((r) => mayRead(u, table, r.bucket));
  }
}

/** A row image as the probe compares it. */
export function rowText(table: ProbeTable, r: { id: unknown; bucket?: unknown; v: unknown }) {
  return JSON.stringify(table === "payroll" ? [r.id, r.v] : [r.id, r.bucket, r.v]);
}

/** A seeded generator (mulberry32): the same seed, the same probe. */
export function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
  };
}

/**
 * Subscription filters (SPEC §4 `where`) and the delivery decision, as pure functions.
 * A filter is checked against the table's columns when the client subscribes, so a typo is an
 * error then, not a silent "no rows" later.
 */
import { bucketOf, inScope, type RowScope, type TableRule } from "../../lib/access.ts";
import { jsonEqual } from "../../lib/diff.ts";
import type { Envelope, JsonValue, Row } from "../../lib/envelope.ts";
import { SyncError } from "../../lib/errors.ts";
import type { ColumnInfo, TableInfo } from "../../lib/catalog.ts";
import { instantOf } from "../../lib/instant.ts";
import { OPERATORS, orderOperand } from "./filter_schema.ts";
import type { Where } from "./protocol.ts";

type Operator = (typeof OPERATORS)[number];

interface Condition {
  readonly column: string;
  readonly op: Operator;
  readonly value: JsonValue;
  readonly compare: Compare | undefined;
}

export type Filter = readonly Condition[];

/** Orders two non-null values of one column kind; undefined when they cannot be ordered. */
type Compare = (a: JsonValue, b: JsonValue) => number | undefined;

export function compileWhere(where: Where | undefined, table: TableInfo): Filter {
  const conditions: Condition[] = [];
  for (const [column, spec] of Object.entries(where ?? {})) {
    const info = table.column.get(column) ?? (table.schemaless ? anyField(column) : undefined);
    if (!info) {
      throw new SyncError("bad_request", `unknown column "${column}" in table ${table.qualified}`);
    }
    const ops: [Operator, JsonValue][] = isOperatorObject(spec)
      ? Object.entries(spec).map(([op, v]) => [op as Operator, v as JsonValue])
      : [["eq", spec as JsonValue]];
    if (isObject(spec) && !isOperatorObject(spec) && info.kind !== "json") {
      const unknown = Object.keys(spec).filter((k) =>
        !(OPERATORS as readonly string[]).includes(k)
      );
      throw new SyncError(
        "bad_request",
        `where.${column}: ${
          unknown.length ? `unknown operator "${unknown[0]}"` : "empty operator object"
        }` +
          ` (operators: ${OPERATORS.join(" ")})`,
      );
    }
    for (const [op, value] of ops) {
      conditions.push({ column, op, value, compare: checkValue(info, op, value) });
    }
  }
  return conditions;
}

export function matches(filter: Filter, row: Row): boolean {
  for (const c of filter) {
    if (!Object.hasOwn(row, c.column)) return false; // a value the source did not send
    if (!holds(c, row[c.column]!)) return false;
  }
  return true;
}

/** What a subscriber may see of a table: its rows' scope, and the table's rule (bucket column). */
export interface View {
  readonly scope: RowScope;
  readonly rule: TableRule;
}

/**
 * How a change reaches a subscriber. Its row's bucket must be in the subscriber's scope and the
 * row must match the filter; a delete is judged by its old row. An update is judged by both rows:
 * a row that leaves the subscriber's view (another bucket, or no longer matching) is announced as
 * `moved_out`, one that enters it as `moved_in`, so the client can drop or add it — and never sees
 * the old row of a bucket it may not read. A row whose bucket cannot be determined (the column is
 * missing from its image) is in the view of no one but admins and `"*"` tokens.
 */
export type Delivery = "send" | "moved_in" | "moved_out" | null;

export function deliveryFor(view: View, filter: Filter, e: Envelope): Delivery {
  switch (e.op) {
    case "t":
      return "send"; // every row of the table is gone, the subscriber's included
    case "c":
    case "r":
      return e.after && inView(view, filter, e.after) ? "send" : null;
    case "d":
      // Without its old row a delete's bucket is unknown: only whole-table readers may see it.
      if (e.before === null) return view.scope.all && filter.length === 0 ? "send" : null;
      return inView(view, filter, e.before) ? "send" : null;
    case "u": {
      const now = e.after !== null && inView(view, filter, e.after);
      if (e.before === null) return now ? "send" : null; // no old row: nothing to compare
      const was = inView(view, filter, e.before);
      return now ? (was ? "send" : "moved_in") : was ? "moved_out" : null;
    }
  }
}

/** True when the change's row image lacks its bucket column: its owner cannot be told. */
export function bucketUnknown(rule: TableRule, e: Envelope): boolean {
  const image = e.op === "d" ? e.before : e.after;
  return image !== null && !bucketOf(rule, image).known;
}

/** The envelope a subscriber gets for a row entering or leaving its view. */
export function movedEnvelope(
  e: Envelope,
  how: "moved_in" | "moved_out",
  rule: TableRule,
): Envelope {
  return how === "moved_in" ? { ...e, id: `${e.id}~in`, op: "c", before: null, changed: null } : {
    ...e,
    id: `${e.id}~out`,
    op: "d",
    after: null,
    changed: null,
    bucket: e.before ? bucketOf(rule, e.before).bucket : null,
  };
}

/** Equality conditions of a filter, for a snapshot query to narrow its rows with. */
export function equalities(filter: Filter): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const c of filter) if (c.op === "eq") out[c.column] = c.value;
  return out;
}

function inView(view: View, filter: Filter, row: Row): boolean {
  return inScope(view.scope, bucketOf(view.rule, row)) && matches(filter, row);
}

function isObject(spec: unknown): spec is Record<string, unknown> {
  return typeof spec === "object" && spec !== null && !Array.isArray(spec);
}

function isOperatorObject(spec: unknown): spec is Record<string, unknown> {
  if (!isObject(spec)) return false;
  const keys = Object.keys(spec);
  return keys.length > 0 && keys.every((k) => (OPERATORS as readonly string[]).includes(k));
}

function holds(c: Condition, actual: JsonValue): boolean {
  switch (c.op) {
    case "eq":
      return jsonEqual(actual, c.value);
    case "neq":
      return !jsonEqual(actual, c.value);
    case "in":
      return (c.value as JsonValue[]).some((v) => jsonEqual(actual, v));
  }
  if (actual === null) return false; // SQL semantics: null is not ordered against anything
  const order = c.compare?.(actual, c.value);
  if (order === undefined) return false;
  switch (c.op) {
    case "lt":
      return order < 0;
    case "lte":
      return order <= 0;
    case "gt":
      return order > 0;
    case "gte":
      return order >= 0;
  }
}

/** Validates an operand against the column and returns how the column's values are ordered. */
function checkValue(col: ColumnInfo, op: Operator, value: JsonValue): Compare | undefined {
  const bad = (why: string) =>
    new SyncError("bad_request", `where.${col.name}.${op}: ${why} (column type ${col.typeName})`);
  const compare = comparatorFor(col);
  if (op === "in") {
    if (!Array.isArray(value)) throw bad("expects an array");
    return compare;
  }
  if (op === "eq" || op === "neq") return compare;
  if (value === null) throw bad("cannot order against null");
  if (!compare) throw bad("values of this type have no order");
  // Schemaless fields order by JSON type; table columns take the operands filter_schema.ts says.
  const operand = col.typeName === "any" ? undefined : orderOperand(col);
  const fits = operand ? operand.safeParse(value).success : compare(value, value) !== undefined;
  if (!fits) throw bad(`${JSON.stringify(value)} is not a value of this type`);
  return compare;
}

/** A field of a schemaless collection: its values are ordered by their JSON type. */
function anyField(name: string): ColumnInfo {
  return {
    name,
    typeOid: 0,
    typeName: "any",
    kind: "other",
    notNull: false,
    hasDefault: false,
    readOnly: true,
  };
}

const byJsonType: Compare = (a, b) =>
  typeof a === "number" && typeof b === "number"
    ? a - b
    : typeof a === "string" && typeof b === "string"
    ? (a < b ? -1 : a > b ? 1 : 0)
    : undefined;

/** How values of a column are ordered; undefined for kinds with equality only. */
function comparatorFor(col: ColumnInfo): Compare | undefined {
  if (col.typeName === "any") return byJsonType;
  switch (col.kind) {
    case "integer":
    case "float":
      return (a, b) => typeof a === "number" && typeof b === "number" ? a - b : undefined;
    case "bigint":
      return (a, b) => {
        const x = toBigInt(a), y = toBigInt(b);
        return x === undefined || y === undefined ? undefined : x < y ? -1 : x > y ? 1 : 0;
      };
    case "numeric":
      return (a, b) => {
        const x = toNumber(a), y = toNumber(b);
        return x === undefined || y === undefined ? undefined : x - y;
      };
    case "timestamp":
    case "date":
      return (a, b) => {
        const x = typeof a === "string" ? instantOf(a) : undefined;
        const y = typeof b === "string" ? instantOf(b) : undefined;
        return x === undefined || y === undefined ? undefined : x - y;
      };
    case "string":
    case "uuid":
    case "enum":
    case "time":
    case "other":
      return (a, b) =>
        typeof a === "string" && typeof b === "string" ? (a < b ? -1 : a > b ? 1 : 0) : undefined;
    default:
      return undefined; // booleans, JSON, arrays, bytes
  }
}

function toBigInt(v: JsonValue): bigint | undefined {
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  if (typeof v === "string" && /^-?\d+$/.test(v)) return BigInt(v);
  return undefined;
}

const DECIMAL = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;

function toNumber(v: JsonValue): number | undefined {
  const n = typeof v === "number" ? v : typeof v === "string" && DECIMAL.test(v) ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

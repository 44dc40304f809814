/**
 * Conflict strategies (SPEC §8.2) as small pure functions: given the two versions of a row and
 * the table's configuration, they decide; the code that reads and writes databases carries the
 * decision out. A version whose row is null is a delete.
 */
import type { JsonValue, Row } from "../../lib/envelope.ts";
import type { Side, Strategy, TableConfig } from "./config.ts";

export interface Version {
  readonly row: Row | null;
  /** For a delete (row null): when it happened at its source, epoch ms. */
  readonly deletedAtMs?: number | undefined;
}

export interface ConflictInput {
  readonly local: Version;
  readonly cloud: Version;
  readonly table: Pick<TableConfig, "timestamp_column" | "priority" | "conflict_resolution">;
}

export type Decision =
  /** Write the winner's version to the other side (a delete when its row is null). */
  | { readonly action: "take"; readonly winner: Side; readonly strategy: Strategy }
  /** Write nothing to either side; park the row until resolved through the API. */
  | { readonly action: "park"; readonly strategy: "manual" };

/** The later timestamp wins; a tie, or a side without a usable time, goes to `priority`. */
export function lastWriteWins(input: ConflictInput): Decision {
  const column = input.table.timestamp_column;
  const l = column ? timeOf(input.local, column) : undefined;
  const c = column ? timeOf(input.cloud, column) : undefined;
  let winner: Side = input.table.priority;
  if (l !== undefined && c !== undefined && l !== c) winner = l > c ? "local" : "cloud";
  else if (l !== undefined && c === undefined) winner = "local";
  else if (c !== undefined && l === undefined) winner = "cloud";
  return { action: "take", winner, strategy: "last_write_wins" };
}

/** The configured side wins, whatever changed. */
export function sourcePriority(input: ConflictInput): Decision {
  return { action: "take", winner: input.table.priority, strategy: "source_priority" };
}

/** Nobody wins until a person decides. */
export function manual(_input: ConflictInput): Decision {
  return { action: "park", strategy: "manual" };
}

export const STRATEGY: Readonly<Record<Strategy, (input: ConflictInput) => Decision>> = {
  last_write_wins: lastWriteWins,
  source_priority: sourcePriority,
  manual,
};

/** The table's configured strategy applied to the two versions. */
export function decide(input: ConflictInput): Decision {
  return STRATEGY[input.table.conflict_resolution](input);
}

/** A version's time in microseconds since the epoch, when it has one. */
function timeOf(v: Version, column: string): number | undefined {
  if (v.row === null) return v.deletedAtMs === undefined ? undefined : v.deletedAtMs * 1000;
  return timestampMicros(v.row[column]);
}

/**
 * ISO-8601 text (with or without a zone; none means UTC, as both engines' sessions run in UTC),
 * or a number (epoch seconds or milliseconds, as the column stores it), to microseconds.
 */
export function timestampMicros(v: JsonValue | undefined): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? v * (v < 1e11 ? 1e6 : 1e3) : undefined;
  if (typeof v !== "string") return undefined;
  const m = /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d(?::\d\d)?)(?:\.(\d+))?(Z|[+-]\d\d(?::?\d\d)?)?$/.exec(
    v.trim(),
  );
  if (!m) return undefined;
  const [, date, time, frac = "", zone = "Z"] = m;
  const offset = zone === "Z"
    ? "Z"
    : zone.length === 3
    ? `${zone}:00`
    : zone.includes(":")
    ? zone
    : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const ms = Date.parse(`${date}T${time}${offset}`);
  if (Number.isNaN(ms)) return undefined;
  return ms * 1000 + Number((frac + "000000").slice(0, 6));
}

/** PostgreSQL errors as SyncErrors: what the client got wrong, or that the database is away. */
import { SyncError } from "../errors.ts";
import { classifyFailure } from "../retry.ts";

interface PgError {
  code?: string;
  message?: string;
  column?: string;
  constraint?: string;
  detail?: string;
}

export function fromPgError(err: unknown): SyncError {
  if (err instanceof SyncError) return err;
  const e = (err ?? {}) as PgError;
  const code = e.code ?? "";
  const details = {
    ...(e.column ? { column: e.column } : {}),
    ...(e.constraint ? { constraint: e.constraint } : {}),
  };
  switch (code) {
    case "23505":
      return new SyncError("conflict", "a row with this key already exists", details);
    case "23503":
      return new SyncError(
        "validation_failed",
        "a value refers to a row that does not exist",
        details,
      );
    case "23502": // a column the catalog thought optional: the schema may have changed too
      return new SyncError("validation_failed", `column "${e.column}" must not be null`, {
        ...details,
        schemaChanged: true,
      });
    case "42883": // no such operator: e.g. equality on a type that has none
      return new SyncError(
        "validation_failed",
        "values of this column cannot be compared",
        details,
      );
    // The table changed under a cached catalog: the request may succeed once it is reloaded.
    case "42703": // undefined_column
    case "42P01": // undefined_table
    case "42804": // datatype_mismatch
      return new SyncError(
        "unavailable",
        "the table's definition changed; retry the request",
        { schemaChanged: true },
      );
    case "23514":
      return new SyncError(
        "validation_failed",
        `check constraint "${e.constraint}" failed`,
        details,
      );
  }
  // Data exceptions (class 22) name the offending input, never internals.
  if (code.startsWith("22")) {
    return new SyncError("validation_failed", e.message ?? "invalid value", details);
  }
  // Lost a deadlock or a serialization race: nothing was written; the same request can succeed.
  if (code === "40P01" || code === "40001") {
    return new SyncError("unavailable", "the write collided with a concurrent one; retry it");
  }
  if (code === "57014") {
    return new SyncError("unavailable", "the query took too long and was cancelled");
  }
  if (classifyFailure(err) !== "other" || code.startsWith("08") || code.startsWith("57P")) {
    return new SyncError("unavailable", "the database is unreachable; retry later");
  }
  return new SyncError("internal");
}

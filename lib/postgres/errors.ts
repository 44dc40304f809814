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

const DATA_EXCEPTION = "a value is not valid for its column";

/** PostgreSQL's data exceptions (SQLSTATE class 22) as what a client did. */
const DATA_EXCEPTIONS: Readonly<Record<string, string>> = {
  "22001": "a value is too long for its column",
  "22003": "a number is out of range for its column",
  "22007": "a date or time is not valid",
  "22008": "a date or time is out of range",
  "22009": "a time zone offset is out of range",
  "22021": "text holds a character the database cannot store (NUL)",
  "22P02": "a value is not valid for its column's type",
  "22P05": "JSON holds a character the database cannot store (\\u0000)",
  "22023": "a value is not valid here",
  "22004": "a value must not be null",
  "22012": "a value divides by zero",
  "22025": "a value has an invalid escape sequence",
};

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
  // Data exceptions (class 22): our words, never the database's text.
  if (code.startsWith("22")) {
    return new SyncError("validation_failed", DATA_EXCEPTIONS[code] ?? DATA_EXCEPTION, details);
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

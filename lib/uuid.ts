/** UUIDs as the API takes them (any version, either case), checked before they reach SQL. */
import { SyncError } from "./errors.ts";

export const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** The value, when it is a UUID; else a 400 naming what it should have been. */
export function uuidOf(value: string, what: string): string {
  if (!UUID.test(value)) throw new SyncError("bad_request", `${what} must be a UUID`);
  return value;
}

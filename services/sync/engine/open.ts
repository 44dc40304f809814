/** Opens a side by its URL's scheme, with errors that say which side failed and why. */
import { SyncError } from "../../../lib/errors.ts";
import type { Logger } from "../../../lib/log.ts";
import { classifyFailure } from "../../../lib/retry.ts";
import type { Side } from "../config.ts";
import { redactUrl, type SyncDatabase } from "./database.ts";
import { openMySql } from "./mysql.ts";
import { openPostgres } from "./postgres.ts";

export async function openDatabase(
  side: Side,
  url: string,
  opts: { connections: number; log: Logger },
): Promise<SyncDatabase> {
  const mysql = /^(mysql|mariadb):/.test(url);
  try {
    return mysql ? await openMySql(side, url, opts) : await openPostgres(side, url, opts);
  } catch (err) {
    throw unreachable(side, url, err);
  }
}

/** A clear `unavailable` error naming the side, the URL (without password) and the cause. */
export function unreachable(side: Side, url: string, err: unknown): SyncError {
  if (err instanceof SyncError) return err;
  const kind = classifyFailure(err);
  const cause = String((err as { message?: unknown })?.message ?? err).split("\n")[0];
  const what = kind === "auth"
    ? "refused the credentials"
    : kind === "network"
    ? "is unreachable"
    : "failed";
  return new SyncError("unavailable", `${side} database ${redactUrl(url)} ${what}: ${cause}`, {
    side,
    kind,
  });
}

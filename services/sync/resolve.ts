/**
 * Settles a parked conflict (for POST /api/v1/conflicts/:id/resolve, issue 16): the chosen
 * version — local's, cloud's, or a whole row given by the operator — is written to both sides
 * (a delete where the chosen version is none), each write with the marker so it does not echo,
 * and only then is the conflict marked resolved. A failed write leaves it unresolved.
 */
import type { Row } from "../../lib/envelope.ts";
import { SyncError } from "../../lib/errors.ts";
import { SIDES } from "./config.ts";
import { markerFor, type SyncContext } from "./context.ts";
import { hashSpec, keyString } from "./row_hash.ts";
import type { ConflictRecord } from "./state_store/store.ts";

export type Resolution = "local" | "cloud" | "custom";

export async function resolveConflict(
  ctx: SyncContext,
  id: string,
  resolution: Resolution,
  data?: Row,
): Promise<ConflictRecord> {
  const conflict = await ctx.store.conflict(id);
  if (!conflict) throw new SyncError("not_found", `no conflict ${id}`);
  if (conflict.resolved) throw new SyncError("conflict", `conflict ${id} is already resolved`);
  const table = ctx.config.sync.tables.find((t) => t.name === conflict.table);
  if (!table) {
    throw new SyncError("bad_request", `table ${conflict.table} is no longer configured`);
  }
  const chosen = resolution === "local"
    ? conflict.local_data
    : resolution === "cloud"
    ? conflict.cloud_data
    : data ?? null;
  if (resolution === "custom" && (!data || typeof data !== "object" || Array.isArray(data))) {
    throw new SyncError("bad_request", "custom resolution takes the whole row in data");
  }
  const shapes = {
    local: await ctx.databases.local.describe(table),
    cloud: await ctx.databases.cloud.describe(table),
  };
  const spec = hashSpec(shapes.local, table);
  if (chosen && keyString(chosen, spec) !== keyString(conflict.primary_key, spec)) {
    throw new SyncError("bad_request", "the chosen row must keep the conflict's primary key", {
      primary_key: conflict.primary_key,
    });
  }
  for (const side of SIDES) {
    await ctx.databases[side].apply(
      shapes[side],
      [chosen ? { kind: "upsert", row: chosen } : { kind: "delete", key: conflict.primary_key }],
      markerFor(ctx, side),
    );
  }
  return await ctx.store.resolveConflict(id, { strategy: `manual:${resolution}`, data: chosen });
}

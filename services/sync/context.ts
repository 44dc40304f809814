/** What the engine's functions are given: the configuration, both sides, the state store, a log. */
import type { Logger } from "../../lib/log.ts";
import type { Side, SyncConfig } from "./config.ts";
import type { MarkerTag, SyncDatabase } from "./engine/database.ts";
import type { Direction, StateStore } from "./state_store/store.ts";

export interface SyncContext {
  readonly config: SyncConfig;
  readonly databases: Readonly<Record<Side, SyncDatabase>>;
  readonly store: StateStore;
  readonly log: Logger;
}

export const other = (side: Side): Side => (side === "local" ? "cloud" : "local");

/** The direction whose writes land on `target`. */
export const directionTo = (target: Side): Direction =>
  target === "cloud" ? "local_to_cloud" : "cloud_to_local";

/** The marker a write to `target` carries (README: "No echo"). */
export function markerFor(ctx: SyncContext, target: Side): MarkerTag {
  return { instance: ctx.config.sync.instance, direction: directionTo(target) };
}

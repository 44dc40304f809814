/**
 * Realtime sync (SPEC §8.2) put together: each captured side is a listener source (WalSource or
 * BinlogSource, through services/listener/capture.ts) publishing on an in-process bus of its own;
 * the applier of its direction follows that bus and applies to the other side. The bus makes a publish wait
 * for the target's commit (gated_bus.ts), so positions are confirmed — the binlog position in
 * the state store, the slot's LSN in PostgreSQL — only after the target has the changes.
 */
import { MemoryBus } from "../../../lib/bus/memory_bus.ts";
import type { Logger } from "../../../lib/log.ts";
import type { Registry } from "../../../lib/metrics.ts";
import { backoffDelay, classifyFailure, sleep } from "../../../lib/retry.ts";
import {
  captureSource,
  type CaptureSpec,
  type Listener,
  type PositionStore,
  slotMemoryKey,
  type Source,
  startCapture,
} from "../../listener/capture.ts";
import type { Side, TableConfig } from "../config.ts";
import { directionTo, other, type SyncContext } from "../context.ts";
import { MARKER_TABLE } from "../engine/database.ts";
import type { Direction, StateStore } from "../state_store/store.ts";
import { SchemaMismatch } from "../table_shape.ts";
import { DirectionApplier } from "./direction.ts";
import { type CaptureLane, GatedBus } from "./gated_bus.ts";
import { realtimeMetrics } from "./metrics.ts";
import { ShapeCache } from "./shapes.ts";
import { Turns } from "./turns.ts";
import {
  type RealtimeState,
  type RealtimeStatus,
  type RealtimeTableState,
  tableStatusOf,
} from "./status.ts";

export interface Realtime extends RealtimeStatus {
  onChange(listener: (state: RealtimeState) => void): () => void;
  /** Settles once every side's capture streams or has failed once (the first batch run waits). */
  readonly started: Promise<void>;
  stop(): Promise<void>;
}

/** How long a stop waits for changes already taken to commit before it gives up on them. */
const DRAIN_MS = 2_000;

/** Sets capture up (retrying while a database is unreachable) and starts it. */
export async function startRealtime(
  ctx: SyncContext,
  deps: { registry: Registry; log: Logger },
  signal: AbortSignal,
): Promise<Realtime | undefined> {
  const { log } = deps;
  const metrics = realtimeMetrics(deps.registry);
  const shapes = new ShapeCache(ctx);
  const turns = new Turns();
  const captured = capturedSides(ctx.config.sync.mode);
  const setupErrors = new Map<string, string>(); // `${table}|${direction}` → why not captured
  const plans: CapturePlan[] = [];
  for (const side of captured) {
    const plan = await retrying(() => planCapture(ctx, side), log, signal);
    if (!plan) return undefined;
    for (const [table, reason] of plan.missing) {
      setupErrors.set(`${table}|${plan.direction}`, reason);
      await ctx.store.setTableStatus(table, plan.direction, "error", reason);
      log.error("table missing on the captured side: not synced in this direction", {
        table,
        direction: plan.direction,
        reason,
      });
    }
    plans.push(plan);
  }

  // Nothing reads the buses' history: they keep little of it.
  const memoryBus = () => new MemoryBus({ retentionMs: 1_000, maxBytes: 1 << 20 });
  const catalogBus = memoryBus();
  const lanes = new Map<string, CaptureLane>();
  const follow = new AbortController();
  const appliers = new Map<string, DirectionApplier>();
  const sources: Source[] = [];
  const failures = new Map<string, string>();
  for (const plan of plans) {
    const applier = new DirectionApplier({
      ctx,
      source: plan.side,
      sourceName: plan.spec.name,
      rules: {
        instance: ctx.config.sync.instance,
        tables: plan.tables,
        committed: await committedPositions(ctx.store, plan),
      },
      shapes,
      turns,
      metrics,
      log: log.child(plan.direction),
    });
    appliers.set(plan.spec.name, applier);
    const bus = memoryBus();
    await bus.follow(applier.handle, follow.signal);
    lanes.set(plan.spec.name, { bus, gate: applier });
    sources.push(captureSource(plan.spec, log.child(`capture-${plan.side}`)));
  }
  const capture: Listener = startCapture({
    sources,
    bus: new GatedBus(catalogBus, (name) => lanes.get(name)),
    topicPrefix: "synchub_sync",
    log,
    registry: deps.registry,
    onFailure: (name, err) => {
      let why = err instanceof Error ? err.message : String(err);
      const plan = plans.find((p) => p.spec.name === name);
      if (plan && (err as { name?: string })?.name === "PositionLostError") {
        // The listener's way back names its own store; the sync keeps positions in its own.
        why += ` — the sync service keeps this position in its state store: DELETE FROM ` +
          `sync_capture_positions WHERE source = '${plan.memoryKey}'` +
          (plan.spec.connector === "postgresql"
            ? ` (and drop the slot ${plan.spec.slot} if it is still there)`
            : "") +
          `, restart, and run a batch to catch up`;
        log.error("realtime capture lost its position; batch runs must catch up", {
          source: name,
          reason: why,
        });
      }
      if (/REPLICATION_SLOT|same server_uuid\/server_id/.test(why)) {
        why += " — the sync service names its slots and binlog server ids from sync.instance: " +
          "give each running sync service its own instance";
      }
      failures.set(name, why);
      metrics.captureFailures.inc({ source: name });
    },
  });

  const listeners = new Set<(state: RealtimeState) => void>();
  let last: { running: boolean; failed: string | undefined } | undefined;
  const gauge = () => {
    for (const [i, s] of sources.entries()) {
      metrics.captureUp.set(s.ready() ? 1 : 0, { side: plans[i]!.side });
      if (s.ready()) failures.delete(s.name);
    }
  };
  /** Tells the listeners when `running` or `failed` changed (checked every second). */
  const watch = () => {
    if (listeners.size === 0) return;
    const now = state();
    if (last && last.running === now.running && last.failed === now.failed) return;
    last = { running: now.running, failed: now.failed };
    for (const l of listeners) l(now);
  };
  const timer = setInterval(() => (gauge(), watch()), 1_000);
  const started = (async () => {
    while (!signal.aborted && !sources.every((s) => s.ready() || failures.has(s.name))) {
      await sleep(50, signal);
    }
    gauge();
  })();

  const state = (): RealtimeState => {
    gauge();
    const failed = plans.flatMap((p, i) => {
      const why = sources[i]!.ready() ? undefined : failures.get(p.spec.name);
      return why ? [`${p.side} capture: ${why}`] : [];
    });
    const tables: RealtimeTableState[] = [];
    for (const [i, plan] of plans.entries()) {
      const ready = sources[i]!.ready();
      const captureError = failures.get(plan.spec.name);
      const stats = appliers.get(plan.spec.name)!.tables();
      for (const t of ctx.config.sync.tables) {
        const s = stats.get(t.name);
        const setup = setupErrors.get(`${t.name}|${plan.direction}`);
        const state = setup
          ? "error"
          : !ready
          ? (captureError ? "error" : "starting")
          : (s?.status ?? "streaming");
        tables.push({
          name: t.name,
          direction: plan.direction,
          status: tableStatusOf(state),
          state,
          rows_synced: s?.rows ?? 0,
          lag_ms: s?.lagMs ?? null,
          position: s?.position ?? null,
          error: setup ?? (!ready && captureError ? captureError : s?.error ?? null),
        });
      }
    }
    return {
      running: sources.length > 0 && sources.every((s) => s.ready()),
      ...(failed.length > 0 ? { failed: failed.join("; ") } : {}),
      tables,
    };
  };

  return {
    started,
    state,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async stop() {
      clearInterval(timer);
      // The pipelines stop reading and wait for what they published; the appliers finish it.
      const capturing = capture.stop();
      const deadline = Date.now() + DRAIN_MS;
      while (Date.now() < deadline && [...appliers.values()].some((a) => !a.idle())) {
        await sleep(20);
      }
      await Promise.all([...appliers.values()].map((a) => a.close()));
      await capturing;
      follow.abort();
      await Promise.all(
        [catalogBus, ...[...lanes.values()].map((l) => l.bus)].map((b) => b.close()),
      );
    },
  };
}

interface CapturePlan {
  side: Side;
  /** Of the changes this capture carries. */
  direction: Direction;
  spec: CaptureSpec;
  /** `namespace.table` as the source names it → the configured table. */
  tables: Map<string, TableConfig>;
  /** Configured tables this side does not have: name → why. */
  missing: Map<string, string>;
  /** Where the capture's resume position is kept. */
  memoryKey: string;
}

/** Which sides' changes travel: the source side of each direction the mode syncs. */
export function capturedSides(mode: SyncContext["config"]["sync"]["mode"]): Side[] {
  if (mode === "local_to_cloud") return ["local"];
  if (mode === "cloud_to_local") return ["cloud"];
  return ["local", "cloud"];
}

async function planCapture(ctx: SyncContext, side: Side): Promise<CapturePlan> {
  const db = ctx.databases[side];
  const instance = ctx.config.sync.instance;
  const tables = new Map<string, TableConfig>();
  const missing = new Map<string, string>();
  const names: string[] = [];
  for (const t of ctx.config.sync.tables) {
    try {
      const shape = await db.describe(t);
      tables.set(`${shape.namespace}.${shape.table}`, t);
      names.push(`${shape.namespace}.${shape.table}`);
    } catch (err) {
      if (!(err instanceof SchemaMismatch)) throw err;
      missing.set(t.name, err.message);
    }
  }
  // The marker's changes tag the sync's own transactions (the adapters read them, never publish).
  const marker = await db.describe({ name: MARKER_TABLE, primary_key: undefined });
  names.push(`${marker.namespace}.${marker.table}`);
  const { name, slot, serverId } = captureNames(instance, side);
  const positions = storePositions(ctx.store);
  const url = ctx.config.databases[side].url;
  const spec: CaptureSpec = db.engine === "mysql"
    ? { connector: "mysql", name, url, tables: names, serverId, positions, start: "end" }
    : { connector: "postgresql", name, url, slot, publication: slot, tables: names, positions };
  return {
    side,
    direction: directionTo(other(side)),
    spec,
    tables,
    missing,
    memoryKey: db.engine === "mysql" ? name : slotMemoryKey(slot),
  };
}

/**
 * Source name, slot/publication name and binlog server id of one side's capture: derived from
 * `sync.instance`, so two instances never share them and a restart finds its own again.
 */
export function captureNames(instance: string, side: Side) {
  let base = `synchub_sync_${instance.toLowerCase().replace(/[^a-z0-9_]/g, "_")}`;
  if (base.length > 50) base = `${base.slice(0, 40)}_${fnv(instance).toString(16)}`;
  return {
    name: `sync-${instance}-${side}`,
    slot: `${base}_${side}`,
    // Unique among the server's replicas; far from the small numbers people configure by hand.
    serverId: 0x40000000 + (fnv(`${instance}:${side}`) % 0x3fffffff),
  };
}

function fnv(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The capture's positions live in the sync's state store (sync_capture_positions). */
function storePositions(store: StateStore): PositionStore {
  return {
    load: (source) => store.capturePosition(source),
    save: (source, position) => store.saveCapturePosition(source, position),
    clear: (source) => store.clearCapturePosition(source),
  };
}

/**
 * Per table, the position up to which a previous run committed everything — only when the
 * capture resumes from a stored position; a fresh capture replays nothing.
 */
async function committedPositions(
  store: StateStore,
  plan: CapturePlan,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (await store.capturePosition(plan.memoryKey) === null) return out;
  for (const s of await store.tableStates()) {
    if (s.direction === plan.direction && s.position !== null) out.set(s.table, s.position);
  }
  return out;
}

async function retrying<T>(
  fn: () => Promise<T>,
  log: Logger,
  signal: AbortSignal,
): Promise<T | undefined> {
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const kind = classifyFailure(err);
      const delay = backoffDelay(kind, attempt);
      log.warn("could not set realtime capture up; retrying", { kind, retry_in_ms: delay, err });
      await sleep(delay, signal);
    }
  }
  return undefined;
}

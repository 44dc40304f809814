/**
 * `PUT /api/v1/config` (SPEC §8.3): the new configuration is checked (its `"***"` secrets
 * restored, every problem listed), refused while a run is in progress (409: stop it or wait for
 * its end, then send it again), then applied without a restart — what changed is reopened first
 * (databases, state store: a failure is a 400 naming it, nothing changed), the file is written
 * back atomically with its comments and `${VAR}` references, the new parts are swapped in and the
 * old ones closed, the scheduler re-planned. `server.auth_token` and `cors_origins` apply to the
 * next request; `server.port` only at the next start (reported in `restart_required`).
 */
import { ConfigError } from "../../../lib/config.ts";
import { SyncError } from "../../../lib/errors.ts";
import {
  parseSyncConfig,
  type Side,
  SIDES,
  type SyncConfig,
  validateSyncConfig,
} from "../config.ts";
import type { SyncDatabase } from "../engine/database.ts";
import { openDatabase } from "../engine/open.ts";
import { errorText } from "../engine/db_errors.ts";
import { openStateStore } from "../state_store/open.ts";
import type { StateStore } from "../state_store/store.ts";
import { deepEqual, updatedDocument, writeFileAtomic } from "./config_file.ts";
import { restoreSecrets } from "./config_secrets.ts";
import type { SyncMetrics } from "./metrics.ts";
import type { RunController } from "./run_controller.ts";
import type { SyncRuntime } from "./runtime.ts";
import type { Scheduler } from "./scheduler.ts";

type Env = Record<string, string | undefined>;

export interface Applied {
  config: SyncConfig;
  /** What was reopened or re-planned. */
  applied: string[];
  /** Changed in the file, in effect only after a restart. */
  restart_required: string[];
}

export interface ApplyDeps {
  runtime: SyncRuntime;
  runs: RunController;
  scheduler: Scheduler;
  metrics: SyncMetrics;
  env: () => Env;
  /** Stops the start-up connection loop when new databases replace the ones it waits for. */
  onDatabasesReplaced?: () => void;
}

/** Throws SyncError bad_request with `details.problems` listing every problem. */
export function checkConfig(input: unknown, current: SyncConfig, env: Env): SyncConfig {
  const problems: string[] = [];
  const restored = restoreSecrets(input, current, problems);
  try {
    const config = validateSyncConfig(restored, env, problems);
    if (problems.length === 0) return config;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
  }
  throw invalid(problems);
}

export async function applyConfig(deps: ApplyDeps, input: unknown): Promise<Applied> {
  const { runtime, runs } = deps;
  const source = runtime.source;
  if (!source) {
    throw new SyncError(
      "conflict",
      "the service was started without a configuration file (SYNC_CONFIG); nothing to write",
    );
  }
  const env = deps.env();
  const next = checkConfig(input, runtime.config, env);
  return await runs.exclusive(
    "a run is in progress: the configuration was not changed; stop the run or wait for its end, then send it again",
    async () => {
      const old = runtime.config;
      const changed = (pick: (c: SyncConfig) => unknown) =>
        !deepEqual(json(pick(old)), json(pick(next)));
      const applied: string[] = [];
      const restart_required = changed((c) => c.server.port) ? ["server.port"] : [];

      // Open what changed before touching anything: a failure leaves everything as it was.
      const reopen = SIDES.filter((side) =>
        !runtime.databases || changed((c) => c.databases[side].url) ||
        changed((c) => c.sync.workers)
      );
      const opened: Partial<Record<Side, SyncDatabase>> = {};
      let store: StateStore | undefined;
      const problems: string[] = [];
      await Promise.all(reopen.map(async (side) => {
        try {
          const db = await openDatabase(side, next.databases[side].url, {
            connections: next.sync.workers * 2 + 1,
            log: runtime.log,
          });
          opened[side] = db;
          await db.ensureMarkerTable();
        } catch (err) {
          problems.push(`databases.${side}.url: cannot use it: ${errorText(err)}`);
        }
      }));
      if (changed((c) => c.state_storage)) {
        try {
          store = deps.metrics.measure(await openStateStore(next.state_storage));
        } catch (err) {
          problems.push(`state_storage: cannot open it: ${errorText(err)}`);
        }
      }
      const discard = async () => {
        await Promise.all([...Object.values(opened).map((db) => db.close()), store?.close()]);
      };
      if (problems.length > 0) {
        await discard();
        throw invalid(problems);
      }

      // The file next, so a failed write changes nothing either.
      const document = updatedDocument(source.document, json(old), json(next));
      const text = document.toString();
      try {
        const reread = parseSyncConfig(text, env).config;
        if (!deepEqual(json(reread), json(next))) {
          throw new Error("the file would not read back the same");
        }
        await writeFileAtomic(source.path, text);
      } catch (err) {
        await discard();
        runtime.log.error("configuration not written", { path: source.path, err });
        throw new SyncError(
          "internal",
          "the configuration file could not be written; nothing changed",
        );
      }

      const databases = runtime.databases && reopen.length < SIDES.length
        ? { ...runtime.databases, ...opened }
        : opened as Record<Side, SyncDatabase>;
      if (reopen.length > 0) {
        applied.push(...reopen.map((s) => `databases.${s}`));
        deps.onDatabasesReplaced?.();
      }
      if (store) applied.push("state_storage");
      if (changed((c) => c.sync)) applied.push("sync");
      if (changed((c) => c.scheduler) || changed((c) => c.sync.realtime)) applied.push("scheduler");
      if (changed((c) => [c.server.auth_token, c.server.cors_origins])) applied.push("server");
      const retired = runtime.replace({
        config: next,
        source: { path: source.path, document },
        store: store ?? runtime.store,
        databases,
      });
      await Promise.all([...retired.databases.map((db) => db.close()), retired.store?.close()])
        .catch((err) => runtime.log.warn("closing the replaced connections failed", { err }));
      if (store) await runs.init();
      deps.scheduler.configure(next);
      runtime.log.info("configuration applied", {
        path: source.path,
        applied,
        restart_required,
      });
      return { config: next, applied, restart_required };
    },
  );
}

function invalid(problems: string[]): SyncError {
  return new SyncError(
    "bad_request",
    `the configuration has ${problems.length} problem(s); nothing was changed`,
    { problems },
  );
}

const json = (v: unknown): unknown => JSON.parse(JSON.stringify(v ?? null));

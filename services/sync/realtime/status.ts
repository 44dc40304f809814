/**
 * Realtime's status as the control API and the scheduler read it (types in
 * control/realtime_status.ts), and the provider the service hands out before capture has started.
 */
import type { RealtimeState, RealtimeStatus } from "../control/realtime_status.ts";

export {
  type RealtimePhase,
  type RealtimeState,
  type RealtimeStatus,
  type RealtimeTableState,
  tableStatusOf,
} from "../control/realtime_status.ts";

/**
 * The provider the service hands out at once, before realtime has started (the databases open
 * first): not running until `attach`; listeners registered early carry over.
 */
export class LateRealtimeStatus implements RealtimeStatus {
  #inner: Required<RealtimeStatus> | undefined;
  #unsubscribe: (() => void) | undefined;
  readonly #listeners = new Set<(state: RealtimeState) => void>();

  /** Follows `inner` from now on (undefined: realtime stopped, as when it was never started). */
  attach(inner: Required<RealtimeStatus> | undefined): void {
    this.#unsubscribe?.();
    this.#inner = inner;
    this.#unsubscribe = inner?.onChange((s) => {
      for (const l of this.#listeners) l(s);
    });
    const now = this.state();
    for (const l of this.#listeners) l(now);
  }

  state(): RealtimeState {
    return this.#inner?.state() ?? { running: false, tables: [] };
  }

  onChange(listener: (state: RealtimeState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

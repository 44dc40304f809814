/**
 * Hub events (SPEC §10): what happened in the hub, published on the bus for other programs —
 * one topic per type (`eventTopic`), JSON `{id, type, ts_ms, data}`. Events say who and what by
 * id only: no passwords, tokens or e-mail addresses.
 *
 * Publishing never fails the action that caused it: the action has happened (a user exists, a
 * checkpoint is ready). A bus that refuses the event is logged and counted.
 */
import type { Bus } from "./bus/bus.ts";
import type { Logger } from "./log.ts";
import { eventTopic } from "./topics.ts";

export const EVENT_TYPES = [
  "user.created",
  "bucket.assigned",
  "conflict.detected",
  "checkpoint.created",
  "sync.completed",
  "sync.failed",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface HubEvent<T = unknown> {
  readonly id: string;
  readonly type: EventType;
  readonly ts_ms: number;
  readonly data: T;
}

/** The data of each type. A sync run is the sync service's run object, passed on as it is. */
export interface EventData {
  "user.created": { user_id: string };
  "bucket.assigned": { user_id: string; bucket: string };
  "conflict.detected": { source: "rest" | "sync"; table: string; key: Record<string, unknown> };
  "checkpoint.created": { checkpoint_id: string; bucket: string; rows: number };
  "sync.completed": Record<string, unknown>;
  "sync.failed": Record<string, unknown>;
}

/** Keys that must never reach an event, at any depth. */
const SECRET_KEYS = /^(password|password_hash|token|access_token|refresh_token|secret|email)$/i;

export class HubEvents {
  private failures = 0;

  constructor(
    private readonly bus: Bus,
    private readonly topicPrefix: string,
    private readonly log: Logger,
  ) {}

  /** Events the bus refused since the start. */
  get failed(): number {
    return this.failures;
  }

  /**
   * Publishes one event and resolves once the bus has it — or once it has failed, which is
   * logged: callers may await it or not.
   */
  async emit<T extends EventType>(type: T, data: EventData[T]): Promise<HubEvent<EventData[T]>> {
    const event: HubEvent<EventData[T]> = {
      id: crypto.randomUUID(),
      type,
      ts_ms: Date.now(),
      data: withoutSecrets(data) as EventData[T],
    };
    try {
      await this.bus.publish([{
        topic: eventTopic(this.topicPrefix, type),
        key: event.id,
        value: JSON.stringify(event),
      }]);
    } catch (err) {
      this.failures++;
      this.log.warn("a hub event could not be published", { type, id: event.id, err });
    }
    return event;
  }

  /** For the sync service: a run that completed or failed, as its run object. */
  syncRun(outcome: "completed" | "failed", run: Record<string, unknown>) {
    return this.emit(outcome === "completed" ? "sync.completed" : "sync.failed", run);
  }
}

/** A copy without secret-looking keys: the run objects of other services are not ours to trust. */
export function withoutSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).filter(([k]) => !SECRET_KEYS.test(k)).map((
      [k, v],
    ) => [k, withoutSecrets(v)]),
  );
}

/** Parses an event read from the bus; undefined when the value is not one. */
export function parseEvent(value: string | null): HubEvent | undefined {
  if (value === null) return undefined;
  try {
    const e = JSON.parse(value);
    return typeof e?.id === "string" && (EVENT_TYPES as readonly string[]).includes(e.type) &&
        typeof e.ts_ms === "number" && "data" in e
      ? e
      : undefined;
  } catch {
    return undefined;
  }
}

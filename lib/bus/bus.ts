/**
 * The bus between the services: a partitioned, retained log of envelopes per table topic
 * (SPEC §3). The bus knows nothing of databases; sources know nothing of the bus.
 */
import type { TableInfo } from "../catalog.ts";
import type { Offsets } from "../cursor.ts";
import type { Envelope } from "../envelope.ts";
import { envelopeJson } from "../envelope_json.ts";
import { envelopeTopic } from "../topics.ts";

export type { Offsets };

export interface BusMessage {
  readonly topic: string;
  /** JSON of the envelope's `key`: keeps one row's changes in one partition, in order. */
  readonly key: string;
  /** The envelope JSON; null is a tombstone (the key's record is gone, for compacted topics). */
  readonly value: string | null;
  /** The parsed envelope, when the producer has it; an in-process bus hands it on as is. */
  readonly envelope?: Envelope;
  // --- debezium branch ---
  /** The envelope's table, for a bus that writes typed records (Kafka Connect JSON schemas). */
  readonly table?: TableInfo;
  /** Carried beside the value (Kafka headers): the trace context of the change. */
  readonly headers?: Readonly<Record<string, string>>;
  // --- end debezium branch ---
}

export interface BusRecord extends BusMessage {
  readonly partition: number;
  readonly offset: number;
  /** When the bus accepted the record (ms since the epoch). */
  readonly timestamp: number;
}

/**
 * Receives records in order. A handler may return a promise to slow the bus down until it
 * resolves (backpressure): the in-process bus makes publishers wait, Kafka stops fetching.
 */
export type RecordsHandler = (records: readonly BusRecord[]) => void | Promise<void>;

export interface Bus {
  readonly transport: "memory" | "kafka";
  /** Names the log that offsets refer to; a cursor from another log is refused. Known once connected. */
  readonly epoch: string;
  /** Resolves once the bus can be used, retrying with back-off meanwhile; rejects only on abort. */
  connect(signal?: AbortSignal): Promise<void>;
  /**
   * Makes sure a topic exists before anyone waits on it (a table nobody has changed yet). A
   * compacted topic keeps only the latest record per key, and keeps it whatever its age.
   */
  ensureTopic(topic: string, opts?: { compacted?: boolean }): Promise<void>;
  /**
   * Resolves once every message is durably accepted, in order per key (and, in process, once
   * local followers have taken them: their backpressure slows the publisher). Publishes through
   * one `channel` keep their order even when one fails: after a failure every later publish of
   * the channel fails too, without being sent, so message N+1 is never accepted when N was not.
   */
  publish(messages: readonly BusMessage[], channel?: Channel): Promise<void>;
  /**
   * Delivers every record published after the returned offsets, in order per partition, until
   * the signal aborts. Topics missing from the map start at offset 0.
   */
  follow(onRecords: RecordsHandler, signal: AbortSignal): Promise<ReadonlyMap<string, Offsets>>;
  /** The retained records of a topic: `start` is the oldest held, `end` the next to be written. */
  range(topic: string): Promise<{ start: Offsets; end: Offsets }>;
  /**
   * Records of `topic` from `from` up to, not including, `to`. Throws `cursor_expired` when
   * `from` is older than what is retained.
   */
  read(topic: string, from: Offsets, to: Offsets): AsyncIterable<readonly BusRecord[]>;
  /** True while the bus can accept and deliver records. */
  ready(): boolean;
  close(): Promise<void>;
}

/** An ordered stream of publishes (one pipeline run): broken for good by its first failure. */
export class Channel {
  /** Why the channel broke; every later publish through it is refused with it. */
  failure: unknown;

  break(err: unknown): void {
    this.failure ??= err;
  }
}

/** The bus message for an envelope (SPEC §3: key = JSON of `key`, value = envelope JSON). */
export function messageFor(
  prefix: string,
  envelope: Envelope,
  extra?: { table?: TableInfo | undefined; headers?: Record<string, string> | undefined },
): BusMessage {
  const key = JSON.stringify(envelope.key);
  const topic = envelopeTopic(prefix, envelope.source);
  const value = envelopeJson(envelope, key);
  const table = extra?.table, headers = extra?.headers;
  // One object per change, its optional fields present only when set.
  if (table === undefined && headers === undefined) return { topic, key, value, envelope };
  if (headers === undefined) return { topic, key, value, envelope, table: table! };
  if (table === undefined) return { topic, key, value, envelope, headers };
  return { topic, key, value, envelope, table, headers };
}

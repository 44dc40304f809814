/**
 * MongoDB change streams (`mongodb` driver) as a Source. Watches the configured collections of
 * one database with `fullDocument: "updateLookup"` and pre-images where the collection has them;
 * resumes after the token stored once the bus confirmed the event. A lost resume point (the oplog
 * rolled past it) or an invalidated stream is a clear error, never a silent restart at "now".
 */
import { type ChangeStream, MongoClient } from "mongodb";
import type { BucketColumns } from "../../../lib/access.ts";
import type { TableInfo } from "../../../lib/catalog.ts";
import { nowUs } from "../../../lib/envelope.ts";
import type { Logger } from "../../../lib/log.ts";
import { type PositionStore, ThrottledSaver } from "../../../lib/postgres/positions.ts";
import type { Source, SourceBatch } from "../source.ts";
import { loadMongoCollections } from "./catalog.ts";
import { type ChangeEvent, ChangeStreamEnded, clusterTimeOf, toEnvelope } from "./decode.ts";
import { decodeToken, encodeToken } from "./position.ts";

export interface ChangeStreamSourceOptions {
  name: string;
  /** `mongodb://host:27017/database?replicaSet=rs0` */
  url: string;
  /** Collections of the URL's database; unset: all of them. */
  collections: readonly string[] | undefined;
  /** Each collection's bucket field (the access policy's). */
  bucketColumns: BucketColumns;
  positions: PositionStore;
  log: Logger;
  /** Events gathered into one batch when they are already there. */
  maxBatch?: number;
}

export class ChangeStreamSource implements Source {
  readonly connector = "mongodb" as const;
  readonly name: string;
  private streaming = false;
  private readonly saver: ThrottledSaver;

  constructor(private readonly opts: ChangeStreamSourceOptions) {
    this.name = opts.name;
    this.saver = new ThrottledSaver(
      opts.positions,
      opts.name,
      (err) => opts.log.warn("could not store the resume token", { err }),
    );
  }

  ready(): boolean {
    return this.streaming;
  }

  confirm(checkpoint: string): Promise<void> {
    this.saver.save(checkpoint);
    return Promise.resolve();
  }

  tables(): Promise<TableInfo[]> {
    const { opts } = this;
    return loadMongoCollections({ ...opts, tables: opts.collections }, opts.bucketColumns);
  }

  async *stream(signal: AbortSignal): AsyncIterable<SourceBatch> {
    const { opts } = this;
    const dbName = new URL(opts.url).pathname.replace(/^\//, "");
    if (!dbName) {
      throw new ChangeStreamEnded("MongoDB source: name the database in MONGODB_URL (…/database)");
    }
    const client = new MongoClient(opts.url, { serverSelectionTimeoutMS: 5_000 });
    let stream: ChangeStream | undefined;
    const onAbort = () => stream?.close().catch(() => {});
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await client.connect();
      const db = client.db(dbName);
      const collections = opts.collections?.length
        ? [...opts.collections]
        : (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
      const stored = await opts.positions.load(opts.name);
      stream = db.watch([{ $match: { "ns.coll": { $in: collections } } }], {
        fullDocument: "updateLookup",
        fullDocumentBeforeChange: "whenAvailable",
        ...(stored ? { resumeAfter: decodeToken(stored) } : {}),
      });
      this.streaming = true;
      opts.log.info("watching MongoDB", { db: dbName, collections, resumed: Boolean(stored) });
      const ctx = {
        sourceName: opts.name,
        bucketColumn: (db: string, coll: string) => opts.bucketColumns(`${db}.${coll}`, () => true),
        now: nowUs,
      };
      let lastTime = "", index = 0;
      while (!signal.aborted) {
        const first = await nextEvent(stream);
        if (!first) break;
        const events: ChangeEvent[] = [first];
        for (let more; events.length < (opts.maxBatch ?? 500) && (more = await stream.tryNext());) {
          events.push(more as unknown as ChangeEvent);
        }
        const envelopes = [];
        for (const e of events) {
          const { t, i } = clusterTimeOf(e);
          const time = `${t}:${i}`;
          index = time === lastTime ? index + 1 : 0; // events of one transaction share a cluster time
          lastTime = time;
          const envelope = toEnvelope(e, index, ctx);
          if (envelope) envelopes.push(envelope);
        }
        yield { envelopes, checkpoint: encodeToken(events.at(-1)!._id) };
      }
    } catch (err) {
      if (signal.aborted) return;
      throw explain(err, opts.name);
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.streaming = false;
      await stream?.close().catch(() => {});
      await this.saver.flush();
      await client.close().catch(() => {});
    }
  }
}

async function nextEvent(stream: ChangeStream): Promise<ChangeEvent | undefined> {
  try {
    return await stream.next() as unknown as ChangeEvent;
  } catch (err) {
    if (stream.closed) return undefined;
    throw err;
  }
}

/** Errors that no retry fixes become a ChangeStreamEnded naming what to do. */
export function explain(err: unknown, source: string): unknown {
  const e = err as { code?: number; codeName?: string; message?: string };
  if (
    e.code === 286 || e.codeName === "ChangeStreamHistoryLost" ||
    /resume point may no longer be in the oplog/i.test(e.message ?? "")
  ) {
    return new ChangeStreamEnded(
      `the stored resume token of source "${source}" is no longer in the oplog: changes since were lost to ` +
        `SyncHub; clear its position (synchub.source_positions) to start afresh, and resnapshot clients`,
    );
  }
  if (e.code === 40573 || /only supported on replica sets/i.test(e.message ?? "")) {
    return new ChangeStreamEnded(
      "MongoDB change streams need a replica set (or sharded cluster): start mongod with --replSet",
    );
  }
  return err;
}

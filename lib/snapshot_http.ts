/**
 * Snapshots across processes: the listener answers `POST /v1/snapshots` with NDJSON — one
 * envelope per line, then `{"end":{"visibility":…}}`, or `{"error":{code,message}}` if reading
 * failed midway — and `HttpSnapshotReader` is the same `SnapshotReader` for a gateway in another
 * process. The body streams with backpressure both ways: a slow client slows the query's cursor.
 */
import { z } from "zod";
import type { Envelope } from "./envelope.ts";
import { asSyncError, type ErrorCode, SyncError } from "./errors.ts";
import type { SnapshotReader, SnapshotRequest, Visibility } from "./snapshot.ts";

export const snapshotRequestSchema = z.strictObject({
  source: z.string().min(1).max(200),
  table: z.string().min(1).max(400),
  scope: z.strictObject({
    all: z.boolean(),
    buckets: z.array(z.string().max(200)).max(10_000),
    nullBucket: z.boolean(),
  }),
  bucketColumn: z.string().min(1).max(200).nullable(),
  equalities: z.record(z.string(), z.json()).optional(),
});

const encoder = new TextEncoder();

/** The NDJSON response of a snapshot read; rows are produced only as fast as they are read. */
export function snapshotResponse(reader: SnapshotReader, request: SnapshotRequest): Response {
  const abort = new AbortController();
  let pull: (() => void) | undefined;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const waitForRoom = () =>
        controller.desiredSize !== null && controller.desiredSize <= 0
          ? new Promise<void>((r) => pull = r)
          : Promise.resolve();
      reader.read(request, async (envelopes) => {
        controller.enqueue(
          encoder.encode(envelopes.map((e) => JSON.stringify(e)).join("\n") + "\n"),
        );
        await waitForRoom();
      }, abort.signal).then((visibility) => {
        controller.enqueue(encoder.encode(JSON.stringify({ end: { visibility } }) + "\n"));
        controller.close();
      }, (err) => {
        if (abort.signal.aborted) return;
        const e = asSyncError(err);
        controller.enqueue(
          encoder.encode(JSON.stringify({ error: { code: e.code, message: e.message } }) + "\n"),
        );
        controller.close();
      });
    },
    pull() {
      pull?.();
      pull = undefined;
    },
    cancel() {
      abort.abort(new SyncError("unavailable", "the snapshot reader went away"));
      pull?.();
    },
  }, { highWaterMark: 4 });
  return new Response(stream, { headers: { "content-type": "application/x-ndjson" } });
}

/** A SnapshotReader in another process (the listener's HTTP port). */
export class HttpSnapshotReader implements SnapshotReader {
  constructor(
    private readonly baseUrl: string,
    private readonly token: () => Promise<string>,
    private readonly batchSize = 1000,
  ) {}

  async read(
    request: SnapshotRequest,
    onRows: (envelopes: Envelope[]) => Promise<void>,
    signal?: AbortSignal,
  ): Promise<Visibility> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}/v1/snapshots`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${await this.token()}`,
          "content-type": "application/json",
        },
        body: JSON.stringify(request),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      throw new SyncError("unavailable", `the listener is unreachable: ${(err as Error).message}`);
    }
    if (!res.ok || !res.body) {
      const body = await res.json().catch(() => undefined) as
        | { error?: { code?: ErrorCode; message?: string } }
        | undefined;
      const code = res.status === 404 ? "not_found" : "unavailable";
      throw new SyncError(code, body?.error?.message ?? `the listener answered ${res.status}`);
    }
    let batch: Envelope[] = [];
    let rest = "";
    for await (const chunk of res.body.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        if (line === "") continue;
        const item = JSON.parse(line);
        if (item.end) {
          if (batch.length) await onRows(batch);
          return item.end.visibility as Visibility;
        }
        if (item.error) {
          throw new SyncError(
            item.error.code === "not_found" ? "not_found" : "unavailable",
            item.error.message,
          );
        }
        batch.push(item as Envelope);
        if (batch.length >= this.batchSize) {
          await onRows(batch);
          batch = [];
        }
      }
    }
    throw new SyncError("unavailable", "the snapshot stream ended early; subscribe again");
  }
}

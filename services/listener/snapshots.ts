/**
 * The listener's snapshot service: a request names its source, which reads the rows with its own
 * credentials. Reached directly in one process, and over `POST /v1/snapshots` (service tokens
 * only) from gateways in other processes.
 */
import type { Hono } from "hono";
import { SyncError } from "../../lib/errors.ts";
import { tokenFromRequest, type TokenVerifier } from "../../lib/jwt.ts";
import type { Logger } from "../../lib/log.ts";
import type { SnapshotReader } from "../../lib/snapshot.ts";
import { snapshotRequestSchema, snapshotResponse } from "../../lib/snapshot_http.ts";
import type { Source } from "./source.ts";

export function sourceSnapshots(sources: readonly Source[]): SnapshotReader {
  return {
    async read(request, onRows, signal) {
      const source = sources.find((s) => s.name === request.source);
      if (!source) throw new SyncError("not_found", `no source "${request.source}"`);
      if (!source.snapshots) {
        throw new SyncError(
          "bad_request",
          `snapshots are not served for ${source.connector} sources (source "${source.name}")`,
        );
      }
      return await source.snapshots.read(request, onRows, signal);
    },
  };
}

export function mountSnapshots(
  app: Hono,
  deps: { reader: SnapshotReader; verifyToken: TokenVerifier; log: Logger },
): void {
  app.post("/v1/snapshots", async (c) => {
    const token = tokenFromRequest(c.req.raw, { query: false });
    const claims = token ? await deps.verifyToken(token).catch(() => undefined) : undefined;
    if (!claims) {
      return c.json(new SyncError("unauthorized", "a service token is required").toBody(), 401);
    }
    if (claims.role !== "service") {
      return c.json(new SyncError("forbidden", "snapshots are for SyncHub services").toBody(), 403);
    }
    const parsed = snapshotRequestSchema.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) {
      return c.json(new SyncError("bad_request", "not a snapshot request").toBody(), 400);
    }
    deps.log.debug("serving a snapshot", { source: parsed.data.source, table: parsed.data.table });
    return snapshotResponse(deps.reader, parsed.data);
  });
}

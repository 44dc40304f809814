/**
 * The checkpoint endpoints (SPEC §10), mounted under /v1. Who may make or read a checkpoint is
 * who may read its bucket in every one of its tables, as the access policy decides now; restore
 * is for admins only.
 */
import { Hono } from "hono";
import { type AccessPolicy, type Principal, principalOf } from "../../../lib/access.ts";
import type { CatalogSource } from "../../../lib/catalog.ts";
import { SyncError } from "../../../lib/errors.ts";
import { uuidOf } from "../../../lib/uuid.ts";
import type { Pool } from "../../../lib/postgres/pool.ts";
import { parseBody } from "../auth/schemas.ts";
import { bucketTables } from "../buckets/scope.ts";
import type { CrudEnv, JsonBody } from "../env.ts";
import type { RowStore } from "../rows/row_store.ts";
import type { Checkpoints } from "./checkpoints.ts";
import { restoreCheckpoint } from "./restore.ts";
import { checkpointRequestSchema } from "./schemas.ts";
import type { Checkpoint } from "./store.ts";

export interface CheckpointRoutesDeps {
  checkpoints: Checkpoints;
  catalog: CatalogSource;
  policy: AccessPolicy;
  pool: Pool;
  rows: RowStore;
  jsonBody: JsonBody;
}

export function checkpointsApp(deps: CheckpointRoutesDeps): Hono<CrudEnv> {
  const app = new Hono<CrudEnv>();
  const { checkpoints } = deps;
  const principal = (c: { get(key: "claims"): CrudEnv["Variables"]["claims"] }) =>
    principalOf(c.get("claims"));

  /** The checkpoint, when the principal may read its bucket in all its tables. */
  const readable = async (p: Principal, id: string) => {
    const checkpoint = await checkpoints.store.get(uuidOf(id, "the checkpoint id"));
    if (!checkpoint) throw new SyncError("not_found", `no checkpoint "${id}"`);
    const tables = await bucketTables(deps, p, checkpoint.bucket, checkpoint.tables);
    return { checkpoint, tables };
  };

  app.post("/checkpoints", async (c) => {
    const p = principal(c);
    const body = parseBody(checkpointRequestSchema, await deps.jsonBody(c.req.raw));
    const tables = await bucketTables(deps, p, body.bucket, body.tables);
    if (tables.length === 0) {
      throw new SyncError("bad_request", `no table has rows of a bucket: nothing to checkpoint`);
    }
    return c.json(await checkpoints.create(body.bucket, tables, { sub: p.sub }), 202);
  });

  app.get("/checkpoints", async (c) => {
    const p = principal(c);
    const bucket = c.req.query("bucket");
    const all = await checkpoints.store.list(bucket);
    const visible: Checkpoint[] = [];
    for (const checkpoint of all) {
      const ok = await bucketTables(deps, p, checkpoint.bucket, checkpoint.tables).then(
        () => true,
        (err) => {
          if (err instanceof SyncError && ["forbidden", "not_found"].includes(err.code)) {
            return false;
          }
          throw err;
        },
      );
      if (ok) visible.push(checkpoint);
    }
    return c.json({ checkpoints: visible });
  });

  app.get("/checkpoints/:id", async (c) => {
    return c.json((await readable(principal(c), c.req.param("id"))).checkpoint);
  });

  app.get("/checkpoints/:id/download", async (c) => {
    const { checkpoint } = await readable(principal(c), c.req.param("id"));
    if (checkpoint.status !== "ready") {
      throw new SyncError("conflict", `checkpoint ${checkpoint.id} is ${checkpoint.status}`);
    }
    const file = await Deno.open(checkpoints.path(checkpoint.id)).catch(() => {
      throw new SyncError("not_found", `the file of checkpoint ${checkpoint.id} is gone`);
    });
    const headers: Record<string, string> = {
      "content-type": "application/x-ndjson",
      "content-disposition": `attachment; filename="checkpoint-${checkpoint.id}.ndjson"`,
      vary: "accept-encoding",
    };
    // The file is gzip already: sent as it is to clients that accept it, inflated for others.
    if (acceptsGzip(c.req.header("accept-encoding"))) {
      return new Response(file.readable, {
        headers: {
          ...headers,
          "content-encoding": "gzip",
          "content-length": String(checkpoint.bytes),
        },
      });
    }
    return new Response(file.readable.pipeThrough(new DecompressionStream("gzip")), {
      headers: { ...headers, "content-length": String(checkpoint.ndjson_bytes) },
    });
  });

  app.post("/checkpoints/:id/restore", async (c) => {
    const p = principal(c);
    if (!p.admin) throw new SyncError("forbidden", "only an admin may restore a checkpoint");
    const { checkpoint, tables } = await readable(p, c.req.param("id"));
    if (checkpoint.status !== "ready") {
      throw new SyncError("conflict", `checkpoint ${checkpoint.id} is ${checkpoint.status}`);
    }
    const dryRun = ["true", "1", ""].includes(c.req.query("dry_run") ?? "false");
    const counts = await restoreCheckpoint(
      {
        pool: deps.pool,
        // As the admin who asked: the row store's guards decide through lib/access.ts.
        write: (table, ops) =>
          deps.rows.write(table, ops, { principal: p, rule: deps.policy.rule(table) }),
      },
      { path: checkpoints.path(checkpoint.id), bucket: checkpoint.bucket, tables },
      dryRun,
    );
    return c.json({ ...counts, dry_run: dryRun });
  });

  return app;
}

/** Does `Accept-Encoding` take gzip (and not with q=0)? */
export function acceptsGzip(header: string | undefined): boolean {
  for (const part of (header ?? "").split(",")) {
    const [coding, ...params] = part.trim().toLowerCase().split(";");
    if (coding !== "gzip" && coding !== "x-gzip" && coding !== "*") continue;
    const q = params.map((s) => s.trim()).find((s) => s.startsWith("q="));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}

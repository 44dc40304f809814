/**
 * `Idempotency-Key` on REST writes (SPEC §9): a request retried with the same key — after a lost
 * response, say — is applied once and answered with the first answer. Keys are scoped to the
 * token's subject; reusing one for a different request is refused. A second request arriving
 * while the first still runs waits for its answer. Answers that say "not done, try again" (5xx,
 * 429) are not kept, so the retry runs the write.
 *
 * The answer is stored after the write commits, so a process that dies in between leaves a claim
 * without an answer; a retry takes it over after `abandonedAfterMs` and runs the write again
 * (client-chosen keys and If-Match versions then make it a conflict rather than a duplicate).
 */
import type { MiddlewareHandler } from "hono";
import { SyncError } from "../../lib/errors.ts";
import { readBytes } from "../../lib/http/read_json.ts";
import { sleep } from "../../lib/retry.ts";
import type { CrudEnv } from "./env.ts";
import type { IdempotencyStore } from "./idempotency_store.ts";

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const KEY = /^[\x21-\x7e]{1,200}$/;
/** Response headers replayed with the body. */
const KEPT_HEADERS = ["content-type", "etag", "location"];

export function idempotency(
  store: IdempotencyStore,
  opts: { maxBodyBytes: number; waitMs?: number },
): MiddlewareHandler<CrudEnv> {
  const waitMs = opts.waitMs ?? 10_000;
  return async (c, next) => {
    const key = c.req.header("idempotency-key");
    if (key === undefined || !WRITES.has(c.req.method)) return await next();
    if (!KEY.test(key)) {
      throw new SyncError(
        "bad_request",
        "Idempotency-Key must be 1 to 200 visible ASCII characters (a UUID will do)",
      );
    }
    // A clone is read: the route reads the original.
    const body = await readBytes(c.req.raw.clone(), opts.maxBodyBytes);
    if (body === undefined) return await next(); // too large: the route refuses it (413)
    const url = new URL(c.req.url);
    const fingerprint = await sha256(
      [c.req.method, url.pathname, url.search, c.req.header("if-match") ?? ""].join("\n"),
      body,
    );
    const subject = c.get("claims").sub;
    const deadline = Date.now() + waitMs;
    for (let attempt = 0;; attempt++) {
      const claim = await store.claim(subject, key, fingerprint);
      if (claim.state === "claimed") break;
      if (claim.fingerprint !== fingerprint) {
        throw new SyncError(
          "bad_request",
          "this Idempotency-Key was already used for a different request; use a new key",
        );
      }
      if (claim.state === "answered") {
        return new Response(claim.answer.body || null, {
          status: claim.answer.status,
          headers: { ...claim.answer.headers, "idempotent-replayed": "true" },
        });
      }
      if (Date.now() > deadline) {
        throw new SyncError(
          "unavailable",
          "a request with this Idempotency-Key is still being processed; retry it",
        );
      }
      await sleep(Math.min(200, 10 * 2 ** attempt));
    }

    let stored = false;
    try {
      await next();
      const res = c.res;
      if (res.status >= 500 || res.status === 429) return;
      const headers: Record<string, string> = {};
      for (const h of KEPT_HEADERS) {
        const v = res.headers.get(h);
        if (v !== null) headers[h] = v;
      }
      await store.complete(subject, key, {
        status: res.status,
        headers,
        body: await res.clone().text(),
      });
      stored = true;
    } finally {
      if (!stored) await store.release(subject, key).catch(() => {});
    }
  };
}

async function sha256(head: string, body: Uint8Array): Promise<string> {
  const headBytes = new TextEncoder().encode(`${head}\n`);
  const all = new Uint8Array(headBytes.byteLength + body.byteLength);
  all.set(headBytes);
  all.set(body, headBytes.byteLength);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A login flood over real HTTP against the CRUD service: password hashing runs in at most
 * PASSWORD_HASH_CONCURRENCY slots, at most PASSWORD_HASH_QUEUE requests wait, the rest get 503
 * `overloaded` with Retry-After — and a row read still answers meanwhile. Unknown accounts cost a
 * verification in the same slots as known ones (no enumeration by timing).
 */
import assert from "node:assert/strict";
import { metric } from "./support/metrics.ts";
import { startStack } from "./support/stack.ts";
import { waitFor } from "./support/wait.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const CONCURRENCY = 2;
const QUEUE = 3;
const WORKERS = 24;

Deno.test("a login flood is bounded by the hashing slots; reads still answer", opts, async () => {
  const stack = await startStack({
    env: {
      PASSWORD_HASH_CONCURRENCY: String(CONCURRENCY),
      PASSWORD_HASH_QUEUE: String(QUEUE),
      // Costly enough that the flood saturates the slots.
      PASSWORD_HASH_ITERATIONS: "100000",
      AUTH_ATTEMPTS_PER_MINUTE: "1000000",
      CRUD_RATE_PER_ADDRESS_PER_SECOND: "1000000",
    },
  });
  const url = stack.crud.url;
  const post = (path: string, body: unknown) =>
    fetch(`${url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  try {
    const creds = { email: "flood@example.com", password: "correct-horse-battery" };
    assert.equal((await post("/v1/auth/register", creds)).status, 201);

    const statuses = new Map<number, number>();
    let overloaded = 0;
    let stop = false;
    const worker = async (i: number) => {
      for (let n = 0; !stop; n++) {
        // Right password, wrong password, unknown account: all three hash.
        const body = [
          creds,
          { ...creds, password: "wrong-horse-battery" },
          { ...creds, email: `nobody${i}@example.com` },
        ][(i + n) % 3];
        const res = await post("/v1/auth/login", body);
        const answer = await res.json();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 503) {
          assert.equal(answer.error.code, "overloaded");
          assert.ok(Number(res.headers.get("retry-after")) >= 1, "503 says when to retry");
          overloaded++;
        }
      }
    };
    const flood = Array.from({ length: WORKERS }, (_, i) => worker(i));
    try {
      await waitFor(() => overloaded > 0, "the flood to fill the hashing queue");
      // The flood goes on until these reads are done: each answered while it ran.
      const token = await stack.token(["a"]);
      for (let i = 0; i < 5; i++) {
        const read = await fetch(`${url}/v1/tables/todos/rows?limit=5`, {
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(read.status, 200, await read.text());
      }
    } finally {
      stop = true;
      await Promise.all(flood);
    }

    assert.deepEqual(
      [...statuses.keys()].sort(),
      [200, 401, 503],
      `only logins, refusals and overload: ${JSON.stringify([...statuses])}`,
    );
    const text = await (await fetch(`${url}/metrics`)).text();
    const peak = metric(text, "synchub_crud_password_hashes_in_flight_peak");
    assert.ok(peak >= 1 && peak <= CONCURRENCY, `peak ${peak} within ${CONCURRENCY}`);
    assert.equal(metric(text, "synchub_crud_password_hash_rejections_total"), overloaded);
    // Every login let in hashed exactly once — unknown accounts included — plus the register.
    assert.equal(
      metric(text, "synchub_crud_password_hashes_total"),
      1 + statuses.get(200)! + statuses.get(401)!,
    );
    assert.equal(metric(text, "synchub_crud_password_hashes_in_flight"), 0);
    assert.equal(metric(text, "synchub_crud_password_hashes_queued"), 0);
    console.log(`flood: ${JSON.stringify(Object.fromEntries(statuses))}, peak ${peak}`);
  } finally {
    await stack.close();
  }
});

Deno.test("bad bodies and rate-limited logins are refused before any hashing", opts, async () => {
  const stack = await startStack({
    env: { PASSWORD_HASH_ITERATIONS: "1000", AUTH_ATTEMPTS_PER_MINUTE: "3" },
  });
  const url = stack.crud.url;
  try {
    const send = (body: unknown) =>
      fetch(`${url}/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      }).then(async (r) => (await r.body?.cancel(), r.status));
    assert.equal(await send({ email: "x@example.com" }), 400, "no password");
    assert.equal(await send({ email: "x@example.com", password: "short" }), 400, "too short");
    assert.equal(await send({ email: "x@example.com", password: "p".repeat(2000) }), 400);
    // The per-address limit (3 a minute): its burst spent above, the next is refused at once.
    assert.equal(await send({ email: "x@example.com", password: "long-enough" }), 429);
    const text = await (await fetch(`${url}/metrics`)).text();
    assert.equal(metric(text, "synchub_crud_password_hashes_total"), 0);
  } finally {
    await stack.close();
  }
});

/**
 * A randomized cross-bucket probe (issue 14): eight users with different grants — single
 * buckets, several, none, a `"*"` token that is not an admin, an admin — write rows of a bucket
 * table, a table sharing its null-bucket rows and an admin-only table through REST (inserts,
 * updates, moves to other buckets, deletes), while each holds WebSocket subscriptions with and
 * without a snapshot and reads through REST. No one may ever receive a row image of a bucket it
 * does not hold (REST, live, snapshot, moves, deletes, history), and everyone must end up with
 * exactly the rows it may read. The seed is printed; SYNCHUB_PROBE_SEED replays a run.
 */
import assert from "node:assert/strict";
import { signToken } from "../lib/jwt.ts";
import {
  type Bucket,
  mayRead,
  mayReadTable,
  mayWrite,
  POLICY,
  type ProbeRow,
  ProbeState,
  type ProbeTable,
  type ProbeUser,
  random,
  rowText,
  SETUP_SQL,
  TABLES,
} from "./support/access_model.ts";
import { ProbeObserver } from "./support/probe_observer.ts";
import { JWT_SECRET, startStack } from "./support/stack.ts";
import { waitFor } from "./support/wait.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const SEED = Number(Deno.env.get("SYNCHUB_PROBE_SEED") ?? Math.floor(Math.random() * 2 ** 31));
const OPS = Number(Deno.env.get("SYNCHUB_PROBE_OPS") ?? 300);

const USERS: ProbeUser[] = [
  { name: "a", buckets: ["a"], admin: false },
  { name: "b", buckets: ["b"], admin: false },
  { name: "c", buckets: ["c"], admin: false },
  { name: "ab", buckets: ["a", "b"], admin: false },
  { name: "bcd", buckets: ["b", "c", "d"], admin: false },
  { name: "none", buckets: [], admin: false },
  { name: "star", buckets: ["*"], admin: false },
  { name: "admin", buckets: [], admin: true },
];
const BUCKETS: Bucket[] = ["a", "b", "c", "d", "e", null];

Deno.test(
  "cross-bucket probe: no leak over REST or WebSocket, nothing withheld",
  opts,
  async () => {
    console.log(`probe seed ${SEED} (SYNCHUB_PROBE_SEED replays it), ${OPS} writes`);
    const rnd = random(SEED);
    const state = new ProbeState();
    const stack = await startStack({
      policy: POLICY,
      env: { CRUD_RATE_PER_SECOND: "100000", CRUD_RATE_PER_ADDRESS_PER_SECOND: "100000" },
      setup: async (db) => {
        await db.sql(SETUP_SQL);
        for (const table of TABLES) {
          for (let i = 0; i < 8; i++) {
            const bucket = table === "payroll" ? null : rnd.pick(BUCKETS);
            const [row] = table === "payroll"
              ? await db.sql(`INSERT INTO payroll (v) VALUES ($1) RETURNING id, v`, [i])
              : await db.sql(`INSERT INTO ${table} (bucket, v) VALUES ($1, $2) RETURNING *`, [
                bucket,
                i,
              ]);
            state.rows[table].set(row!.id, { id: row!.id, bucket, v: i });
          }
        }
      },
    });
    const tokens = new Map<ProbeUser, string>();
    for (const u of USERS) {
      tokens.set(
        u,
        await signToken(JWT_SECRET, {
          sub: `probe-${u.name}`,
          buckets: u.buckets,
          ...(u.admin ? { role: "admin" } : {}),
        }),
      );
    }
    const rest = async (u: ProbeUser, method: string, path: string, body?: unknown) => {
      const res = await fetch(`${stack.crud.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${tokens.get(u)}`, "content-type": "application/json" },
        body: body === undefined ? null : JSON.stringify(body),
      });
      return { status: res.status, text: await res.text() };
    };
    const observers: ProbeObserver[] = [];
    const counts = { accepted: 0, refused: 0, restReads: 0, restRows: 0 };
    try {
      for (const u of USERS) {
        const o = await ProbeObserver.connect(stack.wsUrl, u, tokens.get(u)!);
        observers.push(o);
        for (const table of TABLES) {
          for (const snapshot of [true, false]) {
            const reply = await o.subscribe(table, snapshot);
            assert.equal(
              reply.type === "subscribed",
              mayReadTable(u, table),
              `${u.name} subscribing to ${table}: ${JSON.stringify(reply)}`,
            );
            if (reply.type !== "subscribed") assert.equal(reply.code, "forbidden");
          }
        }
      }

      const touched: Record<ProbeTable, Set<string>> = {
        items: new Set(),
        notes: new Set(),
        payroll: new Set(),
      };
      const writes: Record<ProbeTable, number> = { items: 0, notes: 0, payroll: 0 };
      for (let n = 0; n < OPS; n++) {
        const table = rnd.pick(["items", "items", "notes", "notes", "payroll"] as const);
        const rows = [...state.rows[table].values()];
        const kind = rows.length === 0 ? "insert" : rnd.pick(
          ["insert", "update", "move", "move", "delete"] as const,
        );
        const target: ProbeRow | undefined = kind === "insert" ? undefined : rnd.pick(rows);
        const v = rnd.int(1_000_000);
        const bucket = table === "payroll"
          ? null
          : kind === "move"
          ? rnd.pick(BUCKETS.filter((b) => b !== target!.bucket))
          : kind === "insert"
          ? rnd.pick(BUCKETS)
          : target!.bucket;
        const may = (u: ProbeUser) =>
          mayWrite(u, table, target ? target.bucket : bucket) && mayWrite(u, table, bucket);
        // Mostly someone who may (so rows move about), often anyone (so refusals are probed).
        const entitled = USERS.filter(may);
        const actor = rnd.next() < 0.6 && entitled.length ? rnd.pick(entitled) : rnd.pick(USERS);
        const allowed = may(actor);
        const body = table === "payroll"
          ? { v }
          : kind === "move" || kind === "insert"
          ? { bucket, v }
          : { v };
        const r = kind === "insert"
          ? await rest(actor, "POST", `/v1/tables/${table}/rows`, body)
          : kind === "delete"
          ? await rest(actor, "DELETE", `/v1/tables/${table}/rows/${target!.id}`)
          : await rest(actor, "PATCH", `/v1/tables/${table}/rows/${target!.id}`, body);
        const what = `#${n} ${actor.name} ${kind} ${table} ${
          target ? target.bucket : "new"
        }→${bucket}`;
        if (!allowed) {
          assert.ok([403, 404].includes(r.status), `${what}: refused, not ${r.status} ${r.text}`);
          if (target) assert.ok(!r.text.includes(`"v":`), `${what}: a refusal shows no row`);
          counts.refused++;
        } else {
          assert.ok([200, 201].includes(r.status), `${what}: ${r.status} ${r.text}`);
          const row = JSON.parse(r.text) as ProbeRow;
          if (kind === "delete") state.rows[table].delete(row.id);
          else state.rows[table].set(row.id, { id: row.id, bucket: row.bucket ?? null, v: row.v });
          touched[table].add(row.id);
          writes[table]++;
          counts.accepted++;
        }
        if (n % 20 === 19) await readAll();
      }
      await readAll();

      // Every subscriber converges to exactly what it may read: with a snapshot, all of it;
      // without, the rows written since it subscribed.
      for (const o of observers) {
        await waitFor(
          () => {
            o.drain();
            return o.converged(state, touched);
          },
          `${o.user.name}'s subscriptions to converge`,
          60_000,
        ).catch((err) => {
          throw new Error(`${err.message}: ${o.describeDiff(state, touched)} (seed ${SEED})`);
        });
      }
      // History: as filtered as live delivery; the admin's holds every accepted write.
      for (const o of observers) {
        for (const table of TABLES.filter((t) => mayReadTable(o.user, t))) {
          const changes = await o.history(table);
          if (o.user.admin) {
            assert.equal(changes.filter((e) => e.op !== "r").length, writes[table], table);
          }
        }
      }
      const leaks = observers.flatMap((o) => o.leaks);
      const frames = observers.reduce((sum, o) => sum + o.changeFrames, 0);
      const history = observers.reduce((sum, o) => sum + o.historyChanges, 0);
      console.log(
        `probe seed ${SEED}: ${counts.accepted} writes accepted, ${counts.refused} refused; ` +
          `${frames} change frames, ${history} history changes, ${counts.restReads} REST reads ` +
          `(${counts.restRows} rows); leaks: ${leaks.length}`,
      );
      assert.deepEqual(leaks, [], "no user receives a row of a bucket it does not hold");
    } finally {
      for (const o of observers) await o.close();
      await stack.close();
    }

    /** Every user lists every table and reads some rows by id: exactly what it may read. */
    async function readAll() {
      for (const u of USERS) {
        for (const table of TABLES) {
          const list = await rest(u, "GET", `/v1/tables/${table}/rows?limit=1000`);
          counts.restReads++;
          if (!mayReadTable(u, table)) {
            assert.equal(list.status, 403, `${u.name} lists ${table}`);
            continue;
          }
          assert.equal(list.status, 200, list.text);
          const got = (JSON.parse(list.text).rows as ProbeRow[]).map((r) => rowText(table, r));
          counts.restRows += got.length;
          const want = state.visible(u, table).map((r) => rowText(table, r));
          assert.deepEqual(got.sort(), want.sort(), `${u.name} lists ${table} (seed ${SEED})`);
          const some = [...state.rows[table].values()].slice(0, 4);
          for (const row of some) {
            const one = await rest(u, "GET", `/v1/tables/${table}/rows/${row.id}`);
            counts.restReads++;
            if (mayRead(u, table, row.bucket)) {
              assert.equal(one.status, 200, `${u.name} reads ${table} ${row.bucket}`);
            } else {
              assert.ok([403, 404].includes(one.status), `${u.name} reads ${table} ${row.bucket}`);
              assert.ok(!one.text.includes(`"v":`), "a refusal shows no row");
            }
          }
        }
      }
    }
  },
);

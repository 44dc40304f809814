/**
 * The service as `deno task sync` runs it: a bad file stops it with every problem listed; a good
 * one brings up /ready and, with an empty state store, a first batch run by itself; an
 * unreachable database is retried while /ready says so.
 */
import assert from "node:assert/strict";
import { freePort } from "../tools/servers/process.ts";
import { silentLogger } from "../lib/log.ts";
import { sleep } from "../lib/retry.ts";
import { validateSyncConfig } from "../services/sync/config.ts";
import { startSync } from "../services/sync/service.ts";
import { openSqliteStore } from "../services/sync/state_store/sqlite.ts";
import { postgresSide } from "./support/sync.ts";

const t = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false });

t("sync service: a bad configuration file exits non-zero listing every problem", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/sync.yaml`,
      "databases: { local: { url: nope } }\nsync: { mode: sideways, tables: [] }\n",
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../services/sync/main.ts", import.meta.url).pathname],
      env: { SYNC_CONFIG: `${dir}/sync.yaml`, SYNC_PORT: "x" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 1);
    const text = new TextDecoder().decode(out.stderr);
    for (
      const p of ["databases.local.url", "databases.cloud", "sync.mode", "sync.tables", "SYNC_PORT"]
    ) {
      assert.ok(text.includes(p), `${p} in:\n${text}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

t(
  "sync service: first start with an empty state store runs a batch by itself; /ready",
  async () => {
    const local = await postgresSide();
    const cloud = await postgresSide();
    const dir = await Deno.makeTempDir();
    await local.sql(
      "CREATE TABLE a (id int PRIMARY KEY, v text); INSERT INTO a VALUES (1, 'x'), (2, 'y')",
    );
    await cloud.sql("CREATE TABLE a (id int PRIMARY KEY, v text)");
    const config = validateSyncConfig({
      databases: { local: { url: local.url }, cloud: { url: cloud.url } },
      state_storage: { type: "sqlite", path: `${dir}/state.db` },
      sync: { mode: "local_to_cloud", tables: [{ name: "a" }] },
      server: { port: 0 },
    }, {});
    const stop = new AbortController();
    const service = await startSync({ config, log: silentLogger, host: "127.0.0.1" }, stop.signal);
    try {
      await service.firstRun;
      assert.deepEqual(await cloud.sql("SELECT * FROM a ORDER BY id"), [{ id: 1, v: "x" }, {
        id: 2,
        v: "y",
      }]);
      const ready = await fetch(`${service.url}/ready`);
      assert.equal(ready.status, 200);
      assert.deepEqual((await ready.json()).checks, {
        local: true,
        cloud: true,
        state_store: true,
      });
    } finally {
      await service.stop();
    }
    // A second start has history: no run by itself.
    const store = await openSqliteStore(`${dir}/state.db`);
    assert.equal((await store.listRuns({})).length, 1);
    await store.close();
    await Promise.all([local.drop(), cloud.drop()]);
    await Deno.remove(dir, { recursive: true });
  },
);

t(
  "sync service: an unreachable database is retried while /ready reports it; stop is prompt",
  async () => {
    const cloud = await postgresSide();
    const dir = await Deno.makeTempDir();
    const config = validateSyncConfig({
      databases: {
        local: { url: `mysql://u:p@127.0.0.1:${freePort()}/x` },
        cloud: { url: cloud.url },
      },
      state_storage: { type: "sqlite", path: `${dir}/state.db` },
      sync: { tables: [{ name: "a" }] },
      server: { port: 0 },
    }, {});
    const stop = new AbortController();
    const service = await startSync({ config, log: silentLogger, host: "127.0.0.1" }, stop.signal);
    try {
      await sleep(300);
      const ready = await fetch(`${service.url}/ready`);
      assert.equal(ready.status, 503);
      assert.equal((await ready.json()).checks.local, false);
      assert.equal((await fetch(`${service.url}/health`).then((r) => r.json())).status, "ok");
    } finally {
      stop.abort();
      await service.stop();
      await cloud.drop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

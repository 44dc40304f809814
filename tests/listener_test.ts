/** The listener service: it survives a dead database and reports it, then recovers. */
import { accessPolicy } from "../lib/access_policy.ts";
import assert from "node:assert/strict";
import { MemoryBus } from "../lib/bus/memory_bus.ts";
import { loadConfig } from "../lib/config.ts";
import { freePort } from "../tools/servers/process.ts";
import { silentLogger } from "../lib/log.ts";
import { serveListener } from "../services/listener/service.ts";
import { testDatabase } from "./support/postgres.ts";
import { waitFor } from "./support/wait.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "a dead database keeps the listener alive and not ready, retrying with back-off",
  opts,
  async () => {
    const deadPort = freePort();
    const config = loadConfig([], { LISTENER_PORT: "0", LOG_LEVEL: "error" });
    const bus = new MemoryBus({ retentionMs: 60_000, maxBytes: 1 << 20 });
    const listener = serveListener({
      config,
      policy: accessPolicy(undefined, config.bucketColumn),
      databaseUrl: `postgres://postgres@127.0.0.1:${deadPort}/none`,
      bus,
      log: silentLogger,
    });
    try {
      const metrics = await waitFor(async () => {
        const text = await (await fetch(`${listener.url}/metrics`)).text();
        return /synchub_listener_restarts_total\{source="pg",kind="network"\} [1-9]/.test(text) &&
          text;
      }, "a restart to be counted");
      assert.ok(metrics);
      const ready = await fetch(`${listener.url}/ready`);
      assert.equal(ready.status, 503);
      assert.deepEqual((await ready.json()).checks, { bus: true, "source:pg": false });
      assert.equal((await fetch(`${listener.url}/health`)).status, 200);
    } finally {
      await listener.stop();
    }
  },
);

Deno.test(
  "the listener recovers when its database comes back (slot in use by another stream)",
  opts,
  async () => {
    const db = await testDatabase();
    const config = loadConfig([], {
      LISTENER_PORT: "0",
      LOG_LEVEL: "error",
      REPLICATION_SLOT: `s_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`,
    });
    const bus = new MemoryBus({ retentionMs: 60_000, maxBytes: 1 << 20 });
    const listener = serveListener({
      config,
      policy: accessPolicy(undefined, config.bucketColumn),
      databaseUrl: db.url,
      bus,
      log: silentLogger,
    });
    try {
      await waitFor(
        async () => (await fetch(`${listener.url}/ready`)).ok,
        "the listener to be ready",
      );
      // Cut the replication connection from the server side, as a failover or restart would.
      await db.sql(
        "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1",
        [config.postgres.slot],
      );
      await db.sql("INSERT INTO todos (title) VALUES ('after the cut')");
      await waitFor(async () => {
        const { end } = await bus.range("synchub.pg.public.todos");
        return (end[0] ?? 0) >= 1;
      }, "the change after the reconnection");
      const records = [];
      for await (const batch of bus.read("synchub.pg.public.todos", [0], [1])) {
        records.push(...batch);
      }
      assert.equal(JSON.parse(records[0]!.value!).after.title, "after the cut");
    } finally {
      await listener.stop();
      await db.drop();
    }
  },
);

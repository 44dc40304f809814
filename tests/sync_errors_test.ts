/**
 * Bad input never crashes the sync: an unreachable database or wrong credentials give a clear
 * `unavailable` error naming the side (never the password); a database lost before a run fails
 * that run's tables with the reason, and the run is still recorded.
 */
import assert from "node:assert/strict";
import { SyncError } from "../lib/errors.ts";
import { freePort } from "../tools/servers/process.ts";
import { silentLogger } from "../lib/log.ts";
import { runBatch } from "../services/sync/batch/run.ts";
import { openDatabase } from "../services/sync/engine/open.ts";
import { withMySql } from "./support/mysql.ts";
import { harness, mysqlSide, postgresSide } from "./support/sync.ts";

const test = (name: string, fn: () => Promise<void>, ignore = false) =>
  Deno.test({ name, fn, ignore, sanitizeOps: false, sanitizeResources: false });
const t = (name: string, fn: () => Promise<void>) => test(name, fn);
const opts = { connections: 1, log: silentLogger };

function unavailable(pattern: RegExp, secret?: string) {
  return (err: unknown) => {
    assert.ok(err instanceof SyncError, String(err));
    assert.equal(err.code, "unavailable");
    assert.match(err.message, pattern);
    if (secret) assert.ok(!err.message.includes(secret), err.message);
    return true;
  };
}

t("sync errors: nothing listening on the port → unreachable, per engine", async () => {
  const port = freePort();
  await assert.rejects(
    openDatabase("local", `mysql://sync:s3cret@127.0.0.1:${port}/app`, opts),
    unavailable(
      /^local database mysql:\/\/sync:\*\*\*@127\.0\.0\.1:\d+\/app is unreachable/,
      "s3cret",
    ),
  );
  await assert.rejects(
    openDatabase("cloud", `postgres://sync:s3cret@127.0.0.1:${port}/app`, opts),
    unavailable(/^cloud database postgres:\/\/sync:\*\*\*@.* is unreachable/, "s3cret"),
  );
});

withMySql("sync errors on MariaDB", (server, { ignore }) => {
  const t = (name: string, fn: () => Promise<void>) => test(name, fn, ignore);
  t("sync errors: wrong MariaDB credentials → refused the credentials", async () => {
    const url = new URL(server);
    url.username = "nobody_here";
    url.password = "wrong-pw";
    url.pathname = "/mysql";
    await assert.rejects(
      openDatabase("cloud", url.toString(), opts),
      unavailable(/^cloud database .* refused the credentials: Access denied/, "wrong-pw"),
    );
  });

  t(
    "sync errors: a side lost before the run fails its tables with the reason; the run is recorded",
    async () => {
      const local = await mysqlSide(server);
      const cloud = await postgresSide();
      await local.sql("CREATE TABLE a (id INT PRIMARY KEY)");
      await cloud.sql("CREATE TABLE a (id int PRIMARY KEY)");
      const h = await harness({ local, cloud }, { tables: [{ name: "a" }] });
      try {
        await h.ctx.databases.cloud.close(); // as if the server went away
        const run = await runBatch(h.ctx);
        assert.equal(run.status, "failed");
        assert.match(run.error ?? "", /^1 of 1 table\(s\) failed: a: /);
        assert.equal((await h.ctx.store.tableState("a", "local_to_cloud"))?.status, "error");
        assert.equal((await h.ctx.store.listRuns({}))[0]?.id, run.id);
      } finally {
        await h.close().catch(() => {});
        await Promise.all([local.drop(), cloud.drop()]);
      }
    },
  );
});

t("sync errors: a PostgreSQL role that does not exist → refused the credentials", async () => {
  const side = await postgresSide();
  try {
    const url = new URL(side.url);
    url.username = "no_such_role";
    url.password = "pw-123";
    await assert.rejects(
      openDatabase("local", url.toString(), opts),
      unavailable(/^local database .* (refused the credentials|failed): .*no_such_role/, "pw-123"),
    );
  } finally {
    await side.drop();
  }
});

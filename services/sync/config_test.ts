import assert from "node:assert/strict";
import { ConfigError, loadSyncConfig, parseSyncConfig } from "./config.ts";

const GOOD = `
# comment kept in the document
databases:
  local: { url: "mysql://sync:\${LOCAL_PASSWORD}@127.0.0.1:3306/app_local" }
  cloud: { url: "postgres://sync:secret@db.example.com:5432/app" }
sync:
  mode: bidirectional
  tables:
    - name: users
      primary_key: id
      timestamp_column: updated_at
    - name: shop.orders
      primary_key: [shop_id, order_id]
      conflict_resolution: manual
      priority: cloud
      ignore_columns: [touched]
server: { port: 8070, auth_token: "\${TOKEN:-change-me}" }
`;

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("config: a good file gets its defaults and expanded references", () => {
  const { config, document } = parseSyncConfig(GOOD, { LOCAL_PASSWORD: "p@ss", DATA_DIR: "/d" });
  assert.equal(config.databases.local.url, "mysql://sync:p@ss@127.0.0.1:3306/app_local");
  assert.deepEqual(config.state_storage, { type: "sqlite", path: "/d/sync_state.db" });
  assert.equal(config.sync.batch_size, 1000);
  assert.equal(config.sync.realtime, true);
  const [users, orders] = config.sync.tables;
  assert.deepEqual(users?.primary_key, ["id"]);
  assert.equal(users?.conflict_resolution, "last_write_wins");
  assert.equal(users?.priority, "local");
  assert.deepEqual(users?.ignore_columns, []);
  assert.deepEqual(orders?.primary_key, ["shop_id", "order_id"]);
  assert.equal(orders?.priority, "cloud");
  assert.equal(config.server.auth_token, "change-me");
  assert.equal(config.scheduler.enabled, false);
  // The document keeps what the user wrote, for writing the file back.
  assert.match(document.toString(), /\$\{LOCAL_PASSWORD\}/);
  assert.match(document.toString(), /# comment kept/);
});

Deno.test("config: SYNC_PORT overrides server.port; a table without timestamp defaults to source_priority", () => {
  const text = GOOD.replace("      timestamp_column: updated_at\n", "");
  const { config } = parseSyncConfig(text, { LOCAL_PASSWORD: "x", SYNC_PORT: "9999" });
  assert.equal(config.server.port, 9999);
  assert.equal(config.sync.tables[0]?.conflict_resolution, "source_priority");
});

Deno.test("config: every problem is reported at once, each with its path", () => {
  const bad = `
databases:
  local: { url: "ftp://nowhere" }
  cloud: { url: "\${CLOUD_URL}" }
state_storage: { type: postgres }
sync:
  mode: sideways
  batch_size: 0
  tables:
    - name: users
      conflict_resolution: last_write_wins
    - name: users
      primary_key: id
    - name: "bad name!"
      priority: nobody
      colour: blue
scheduler: { enabled: true, cron: "every tuesday" }
`;
  const problems = problemsOf(() => parseSyncConfig(bad, { SYNC_PORT: "http" }));
  const expect = [
    /^databases\.cloud\.url: environment variable CLOUD_URL is not set/,
    /^databases\.local\.url: must be a mysql:\/\/ or postgres:\/\/ URL/,
    /^state_storage\.url:/,
    /^sync\.mode:/,
    /^sync\.batch_size:/,
    /^sync\.tables\.0\.conflict_resolution: last_write_wins needs a timestamp_column/,
    /^sync\.tables\.2\.name:/,
    /^sync\.tables\.2\.priority:/,
    /^sync\.tables\.2: .*colour/,
    /^scheduler\.cron: not a cron pattern/,
    /^SYNC_PORT:/,
  ];
  for (const e of expect) {
    assert.ok(problems.some((p) => e.test(p)), `${e} in\n${problems.join("\n")}`);
  }
});

Deno.test("config: LWW without a timestamp column and duplicate tables are config errors", () => {
  const text = `
databases: { local: { url: "mysql://a@h/x" }, cloud: { url: "mysql://a@h/y" } }
sync:
  tables:
    - { name: users, conflict_resolution: last_write_wins }
    - { name: users, conflict_resolution: manual }
`;
  const problems = problemsOf(() => parseSyncConfig(text, {}));
  assert.deepEqual(problems.sort(), [
    "sync.tables.0.conflict_resolution: last_write_wins needs a timestamp_column (or use source_priority or manual)",
    "sync.tables.1.name: table users is listed twice",
  ]);
});

Deno.test("config: broken YAML and a missing file are clear errors", async () => {
  const yamlProblems = problemsOf(() => parseSyncConfig("databases: [unclosed", {}));
  assert.match(yamlProblems[0]!, /^YAML: /);
  await assert.rejects(
    loadSyncConfig({ SYNC_CONFIG: "/nonexistent/sync.yaml" }),
    (err: unknown) => err instanceof ConfigError && /cannot read/.test(err.problems[0]!),
  );
  await assert.rejects(
    loadSyncConfig({}),
    (err: unknown) => err instanceof ConfigError && /SYNC_CONFIG: required/.test(err.problems[0]!),
  );
});

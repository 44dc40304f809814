import assert from "node:assert/strict";
import { parseSyncConfig } from "../config.ts";
import { updatedDocument, writeFileAtomic } from "./config_file.ts";

const TEXT = `# the sync of the shop
databases:
  local: { url: "\${LOCAL_URL}" }   # from the environment
  cloud: { url: "postgres://u:pw@cloud.example.com/app" }
sync:
  mode: bidirectional
  batch_size: 500   # small rows
  tables:
    # users first
    - name: users
      timestamp_column: updated_at
    # then orders
    - name: orders
      conflict_resolution: manual
server: { auth_token: "\${TOKEN}" }
`;
const env = { LOCAL_URL: "mysql://a:b@127.0.0.1/app", TOKEN: "t0ken" };

const json = (v: unknown) => JSON.parse(JSON.stringify(v));

Deno.test("config file: only changed values are touched; comments and ${VAR} references stay", () => {
  const { config, document } = parseSyncConfig(TEXT, env);
  const next = json(config);
  next.sync.batch_size = 2000;
  next.sync.tables[1].priority = "cloud";
  next.scheduler.enabled = true;
  const text = updatedDocument(document, json(config), next).toString();
  for (
    const kept of [
      "# the sync of the shop",
      '"${LOCAL_URL}"',
      "# from the environment",
      '"${TOKEN}"',
      "# users first",
      "# then orders",
      "# small rows",
    ]
  ) assert.ok(text.includes(kept), `${kept} in:\n${text}`);
  assert.ok(text.includes("batch_size: 2000"));
  assert.ok(!text.includes("workers"), "defaults in effect are not written out");
  const again = parseSyncConfig(text, env).config;
  assert.deepEqual(json(again), next);
});

Deno.test("config file: tables are matched by name — removing one keeps the others' comments", () => {
  const { config, document } = parseSyncConfig(TEXT, env);
  const next = json(config);
  next.sync.tables = [next.sync.tables[1], { name: "items", priority: "cloud" }];
  next.databases.local.url = "mysql://a:b@10.1.1.1/app";
  const text = updatedDocument(document, json(config), next).toString();
  assert.ok(text.includes("# then orders"));
  assert.ok(!text.includes("name: users"));
  assert.ok(text.includes("items"));
  assert.ok(!text.includes("${LOCAL_URL}"), "a changed value replaces its reference");
  const again = parseSyncConfig(text, env).config;
  assert.deepEqual(again.sync.tables.map((t) => t.name), ["orders", "items"]);
  assert.equal(again.databases.local.url, "mysql://a:b@10.1.1.1/app");
});

Deno.test("config file: the atomic write replaces the file and keeps its mode", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/sync.yaml`;
    await Deno.writeTextFile(path, "old\n", { mode: 0o640 });
    await Deno.chmod(path, 0o640);
    await writeFileAtomic(path, "new\n");
    assert.equal(await Deno.readTextFile(path), "new\n");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o640);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["sync.yaml"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

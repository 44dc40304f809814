import assert from "node:assert/strict";
import { validateSyncConfig } from "../config.ts";
import { redactConfig, redactUrl, restoreSecrets } from "./config_secrets.ts";

const config = validateSyncConfig({
  databases: {
    local: { url: "mysql://sync:s3cr%40t@127.0.0.1:3306/app" },
    cloud: { url: "postgres://nopass@db.example.com/app" },
  },
  state_storage: { type: "postgres", url: "postgres://st:pw@127.0.0.1/state" },
  sync: { tables: [{ name: "users" }] },
  server: { auth_token: "tok-123" },
}, {});

Deno.test("config secrets: passwords and the token go out as ***; the rest as it is", () => {
  const shown = redactConfig(config) as {
    databases: { local: { url: string }; cloud: { url: string } };
    state_storage: { url: string };
    server: { auth_token: string };
  };
  assert.equal(shown.databases.local.url, "mysql://sync:***@127.0.0.1:3306/app");
  assert.equal(shown.databases.cloud.url, "postgres://nopass@db.example.com/app");
  assert.equal(shown.state_storage.url, "postgres://st:***@127.0.0.1/state");
  assert.equal(shown.server.auth_token, "***");
  assert.ok(!JSON.stringify(shown).includes("s3cr"));
  assert.equal(redactUrl("mysql://u:@h/db"), "mysql://u:@h/db");
  assert.equal(redactUrl("mysql://u:p@ss@h:3306/db"), "mysql://u:***@h:3306/db");
});

Deno.test("config secrets: *** coming back keeps the stored secret; new values replace it", () => {
  const problems: string[] = [];
  const back = restoreSecrets(redactConfig(config), config, problems);
  assert.deepEqual(problems, []);
  assert.deepEqual(back, JSON.parse(JSON.stringify(config)));

  const edited = structuredClone(redactConfig(config)) as Record<string, Record<string, unknown>>;
  (edited.databases!.local as { url: string }).url = "mysql://sync:***@10.0.0.9:3306/app";
  edited.server!.auth_token = "new-token";
  const restored = restoreSecrets(edited, config, problems) as typeof edited;
  assert.equal(
    (restored.databases!.local as { url: string }).url,
    "mysql://sync:s3cr%40t@10.0.0.9:3306/app",
  );
  assert.equal(restored.server!.auth_token, "new-token");
});

Deno.test("config secrets: *** where nothing is stored is a problem naming the path", () => {
  const problems: string[] = [];
  const edited = structuredClone(redactConfig(config)) as Record<string, Record<string, unknown>>;
  (edited.databases!.cloud as { url: string }).url = "postgres://nopass:***@db.example.com/app";
  restoreSecrets(
    edited,
    { ...config, server: { ...config.server, auth_token: undefined } },
    problems,
  );
  assert.equal(problems.length, 2);
  assert.match(problems[0]!, /^databases\.cloud\.url/);
  assert.match(problems[1]!, /^server\.auth_token/);
});

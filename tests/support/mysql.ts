/** MariaDB for the tests: the server `deno task test` started (`SYNCHUB_TEST_MYSQL_URL`). */
import mysql from "mysql2/promise";

export function mysqlUrl(): string | undefined {
  return Deno.env.get("SYNCHUB_TEST_MYSQL_URL");
}

/** Options every test of this repo passes to Deno.test, plus `ignore` when its server is absent. */
export interface ServerTestOptions {
  sanitizeOps: boolean;
  sanitizeResources: boolean;
  ignore: boolean;
}

/**
 * Registers tests that need MariaDB. Without one they are registered as ignored — reported by
 * `deno test` as ignored, never as passed — and one loud line says why and how to run them.
 */
export function withMySql(name: string, body: (url: string, opts: ServerTestOptions) => void) {
  const url = mysqlUrl();
  if (!url) {
    const why = Deno.env.get("SYNCHUB_TEST_MYSQL_MISSING") ?? "SYNCHUB_TEST_MYSQL_URL is not set";
    console.error(
      `\n!! IGNORED: ${name} needs MariaDB: ${why}. Install it (apt-get install mariadb-server) ` +
        "and run `deno task test`, which starts it privately.\n",
    );
  }
  body(url ?? "mysql://unavailable/", {
    sanitizeOps: false,
    sanitizeResources: false,
    ignore: !url,
  });
}

export async function mysqlConnection(url: string, database?: string) {
  const u = new URL(url);
  return await mysql.createConnection({
    host: u.hostname,
    port: Number(u.port),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    multipleStatements: true,
    ...(database ? { database } : {}),
  });
}

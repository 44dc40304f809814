/** MariaDB for the tests: the server `deno task test` started (`SYNCHUB_TEST_MYSQL_URL`). */
import mysql from "mysql2/promise";

export function mysqlUrl(): string | undefined {
  return Deno.env.get("SYNCHUB_TEST_MYSQL_URL");
}

/** Registers tests that need MariaDB, or one loud test saying why they did not run. */
export function withMySql(name: string, body: (url: string) => void): void {
  const url = mysqlUrl();
  if (url) return body(url);
  Deno.test(`${name}: SKIPPED — no MariaDB (apt-get install mariadb-server; deno task test starts it)`, () => {
    console.error(`\n!! ${name} did not run: SYNCHUB_TEST_MYSQL_URL is not set\n`);
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

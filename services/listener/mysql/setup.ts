/**
 * What the binlog source checks before streaming: the server logs whole rows in ROW format, and
 * the user may read it as a replica.
 */
import type mysql from "mysql2/promise";

export type Flavor = "mysql" | "mariadb";

import { BinlogConfigError } from "../../../lib/mysql/schema.ts";

/** Refuses, with the fix in the message, a server or user the binlog source cannot work with. */
export async function checkServer(conn: mysql.Connection): Promise<Flavor> {
  const [[vars]] = await conn.query(
    "SELECT @@version AS version, @@log_bin AS log_bin, @@binlog_format AS format, @@binlog_row_image AS image",
  ) as unknown as [Record<string, string | number>[]];
  const flavor: Flavor = String(vars!.version).toLowerCase().includes("mariadb")
    ? "mariadb"
    : "mysql";
  const problems: string[] = [];
  if (Number(vars!.log_bin) !== 1) {
    problems.push("the binary log is off: start the server with log-bin");
  }
  if (String(vars!.format).toUpperCase() !== "ROW") {
    problems.push(`binlog_format is ${vars!.format}: set binlog_format=ROW`);
  }
  if (String(vars!.image).toUpperCase() !== "FULL") {
    problems.push(
      `binlog_row_image is ${vars!.image}: set binlog_row_image=FULL (updates need whole rows)`,
    );
  }
  const [grants] = await conn.query("SHOW GRANTS") as unknown as [Record<string, string>[]];
  const text = grants.map((g) => Object.values(g)[0]).join("\n").toUpperCase();
  const all = /GRANT ALL PRIVILEGES ON \*\.\*/.test(text);
  for (const needed of ["REPLICATION SLAVE", "REPLICATION CLIENT"]) {
    const alias = needed === "REPLICATION SLAVE" ? "REPLICATION REPLICA" : "BINLOG MONITOR";
    if (!all && !text.includes(needed) && !text.includes(alias)) {
      problems.push(
        `the user lacks ${needed}: GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO <user>`,
      );
    }
  }
  if (problems.length) {
    throw new BinlogConfigError(`MySQL source cannot start: ${problems.join("; ")}`);
  }
  return flavor;
}

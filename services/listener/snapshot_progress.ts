/** Progress of an initial snapshot in the logs: as each table starts, then at most once a second. */
import type { Logger } from "../../lib/log.ts";

export function snapshotProgress(log: Logger): (table: string, rows: number) => void {
  let shown = 0, last = "";
  return (table, rows) => {
    if (table === last && Date.now() - shown < 1_000) return;
    last = table;
    shown = Date.now();
    log.info("initial snapshot", { table, rows });
  };
}

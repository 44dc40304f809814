/**
 * MySQL/MariaDB positions. A checkpoint (what is stored once the bus has a transaction) holds the
 * executed GTID set where the server has GTIDs — valid across a failover — and the binlog file
 * and offset always. An envelope's position is the commit's file and offset, zero-padded, so
 * positions sort as strings in commit order; the GTID is its `txId`.
 */

export interface BinlogCheckpoint {
  /** MySQL GTID set (`uuid:1-27`) or MariaDB GTID position (`0-1-1234`), when known. */
  gtid?: string | undefined;
  file: string;
  pos: number;
}

export function encodeCheckpoint(c: BinlogCheckpoint): string {
  return JSON.stringify(
    c.gtid ? { gtid: c.gtid, file: c.file, pos: c.pos } : { file: c.file, pos: c.pos },
  );
}

export function decodeCheckpoint(text: string): BinlogCheckpoint {
  const v = JSON.parse(text);
  if (typeof v?.file !== "string" || !Number.isSafeInteger(v?.pos)) {
    throw new Error(`not a binlog checkpoint: ${text}`);
  }
  return {
    gtid: typeof v.gtid === "string" && v.gtid ? v.gtid : undefined,
    file: v.file,
    pos: v.pos,
  };
}

/** `binlog.000012:000000004711:0000000003`: file, commit offset, index in the transaction. */
export function changePosition(file: string, pos: number, index: number): string {
  return `${file}:${String(pos).padStart(12, "0")}:${String(index).padStart(10, "0")}`;
}

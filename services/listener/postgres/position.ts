/**
 * PostgreSQL positions. An LSN is a 64-bit WAL address written `16/B374D848`. A change's
 * envelope position is its transaction's commit LSN and its index in the transaction, both
 * zero-padded, so positions sort as strings in commit order.
 */

export function parseLsn(text: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!m) throw new Error(`not an LSN: ${text}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${
    (lsn & 0xffffffffn).toString(16).toUpperCase()
  }`;
}

export function changePosition(commitLsn: bigint, index: number): string {
  return `${commitLsn.toString(16).toUpperCase().padStart(16, "0")}:${
    String(index).padStart(10, "0")
  }`;
}

/**
 * A checkpoint's file: gzip NDJSON, a header line `{checkpoint, cursor, tables}` then one
 * `{table, row}` line per row. Written as rows arrive (written to `.part`, renamed when complete,
 * so a file under its final name is always whole) and read back line by line: neither side ever
 * holds more than a batch.
 */
import { Buffer } from "node:buffer";
import { once } from "node:events";
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { createInterface } from "node:readline";
import { createGunzip, createGzip, type Gzip } from "node:zlib";
import type { Row } from "../../../lib/envelope.ts";

export interface CheckpointHeader {
  checkpoint: string;
  cursor: string;
  tables: string[];
}

export type CheckpointLine = { table: string; row: Row };

export class CheckpointFileWriter {
  private readonly gzip: Gzip;
  private readonly out: WriteStream;
  private readonly failed: Promise<never>;
  /** Uncompressed NDJSON bytes written so far. */
  ndjsonBytes = 0;

  constructor(readonly path: string) {
    this.gzip = createGzip();
    this.out = createWriteStream(`${path}.part`, { mode: 0o600 });
    this.gzip.pipe(this.out);
    this.failed = Promise.race([once(this.gzip, "error"), once(this.out, "error")]).then(
      ([err]) => {
        throw err;
      },
    );
    this.failed.catch(() => {}); // observed by the writes that race it
  }

  /** Compressed bytes on disk so far. */
  get bytes(): number {
    return this.out.bytesWritten;
  }

  header(header: CheckpointHeader): Promise<void> {
    return this.write(JSON.stringify(header) + "\n");
  }

  /** One batch of a table's rows: one string, one write, waiting while the compressor is full. */
  rows(table: string, rows: readonly Row[]): Promise<void> {
    const prefix = `{"table":${JSON.stringify(table)},"row":`;
    let text = "";
    for (const row of rows) text += prefix + JSON.stringify(row) + "}\n";
    return this.write(text);
  }

  /** Flushes, closes and gives the file its final name; resolves with its size. */
  async finish(): Promise<number> {
    this.gzip.end();
    await Promise.race([once(this.out, "finish"), this.failed]);
    await Deno.rename(`${this.path}.part`, this.path);
    return (await Deno.stat(this.path)).size;
  }

  /** Stops and removes what was written. */
  async abandon(): Promise<void> {
    this.gzip.destroy();
    this.out.destroy();
    await Deno.remove(`${this.path}.part`).catch(() => {});
  }

  private async write(text: string): Promise<void> {
    this.ndjsonBytes += Buffer.byteLength(text, "utf8");
    if (!this.gzip.write(text)) await Promise.race([once(this.gzip, "drain"), this.failed]);
  }
}

/** The header, then each row line, of a checkpoint file. */
export async function* readCheckpointFile(
  path: string,
): AsyncGenerator<CheckpointHeader | CheckpointLine> {
  const input = createReadStream(path).pipe(createGunzip());
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (line !== "") yield JSON.parse(line);
    }
  } finally {
    lines.close();
    input.destroy();
  }
}

/**
 * The client SDK (sdk/mod.ts) as one browser ES module, for `GET /sdk/synchub.js`. Built with
 * `deno bundle` — the bundler that ships with the Deno running this service (esbuild inside), so
 * no extra dependency or build step: the first request builds it, later ones get it from memory.
 */
import { SyncError } from "../../lib/errors.ts";

const ENTRY = new URL("../../sdk/mod.ts", import.meta.url);

export interface Bundle {
  code: string;
  etag: string;
}

let building: Promise<Bundle> | undefined;

/** The bundle, built once per process; a failed build is retried by the next request. */
export function sdkBundle(): Promise<Bundle> {
  building ??= build().catch((err) => {
    building = undefined;
    throw err;
  });
  return building;
}

async function build(): Promise<Bundle> {
  const dir = await Deno.makeTempDir({ prefix: "synchub-sdk-" });
  try {
    const out = `${dir}/synchub.js`;
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform=browser", "--format=esm", "-o", out, ENTRY.pathname],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (code !== 0) {
      throw new SyncError(
        "internal",
        `deno bundle failed: ${new TextDecoder().decode(stderr).slice(0, 2000)}`,
      );
    }
    const text = await Deno.readTextFile(out);
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
    );
    const etag = `"${
      Array.from(digest.slice(0, 12), (b) => b.toString(16).padStart(2, "0")).join("")
    }"`;
    return { code: text, etag };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Jars from Maven Central for the local servers (Kafka, Kafka Connect and its plugins): a small pom
 * resolved once with `mvn dependency:copy-dependencies` into a cache directory, with progress on
 * stderr while it downloads (a first run fetches tens of megabytes).
 */
import type { Logger } from "../../lib/log.ts";
import { exists } from "./process.ts";

/** The jars of `pom` in `${dir}/libs`, fetched on first use; later uses read the cache. */
export async function mavenJars(
  dir: string,
  pom: string,
  what: string,
  log: Logger,
): Promise<string> {
  const libs = `${dir}/libs`;
  const same = await Deno.readTextFile(`${dir}/pom.xml`).then((p) => p === pom, () => false);
  if (same && await exists(`${libs}/.complete`)) return libs;
  // A pom changed since (another version, other exclusions): fetch afresh.
  await Deno.remove(libs, { recursive: true }).catch(() => {});
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/pom.xml`, pom);
  log.info(`fetching ${what} from Maven Central (once)`, { dir });
  const child = new Deno.Command("mvn", {
    args: [
      "-B",
      "dependency:copy-dependencies",
      "-DoutputDirectory=libs",
      "-DincludeScope=runtime",
    ],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  });
  let process: Deno.ChildProcess;
  try {
    process = child.spawn();
  } catch (err) {
    throw new Error(
      `${what} come from Maven Central through \`mvn\`, which failed to run: ${
        (err as Error).message
      }`,
    );
  }
  const tail: string[] = [];
  let downloaded = 0, shownAt = 0;
  const started = Date.now();
  const progress = (final = false) => {
    if (!final && Date.now() - shownAt < 2_000) return;
    shownAt = Date.now();
    const seconds = Math.round((Date.now() - started) / 1000);
    console.error(
      `  ${what}: ${downloaded} files downloaded (${seconds} s)${final ? ", done" : ""}`,
    );
  };
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) {
        if (/^\[INFO\] Downloaded from /.test(line)) downloaded++;
        tail.push(line);
        if (tail.length > 40) tail.shift();
        progress();
      }
    }
  };
  const [status] = await Promise.all([process.status, pump(process.stdout), pump(process.stderr)]);
  if (!status.success) {
    throw new Error(`mvn dependency:copy-dependencies failed for ${what}:\n${tail.join("\n")}`);
  }
  progress(true);
  await Deno.writeTextFile(`${libs}/.complete`, "");
  return libs;
}

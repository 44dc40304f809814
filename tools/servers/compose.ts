/**
 * A `docker compose` binary for validating docker-compose.yml (`docker compose config`) where no
 * Docker engine runs: Compose v2 built from the Go module proxy into the cache, once. Not a
 * server, but fetched like one; `deno task test` starts the build in the background.
 */
import type { Logger } from "../../lib/log.ts";
import { exists } from "./process.ts";

export const COMPOSE_VERSION = "v2.40.3";
const MODULE = "github.com/docker/compose/v2";

export function composeDir(cacheDir: string): string {
  return `${cacheDir}/docker-compose-${COMPOSE_VERSION}`;
}

/**
 * The path of the binary, built on first use (a few minutes: the module and its dependencies come
 * from the Go module proxy). A failed build leaves `build.failed` with the reason.
 */
export async function composeBinary(cacheDir: string, log: Logger): Promise<string> {
  const dir = composeDir(cacheDir);
  const binary = `${dir}/docker-compose`;
  if (await exists(binary)) return binary;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.remove(`${dir}/build.failed`).catch(() => {});
  try {
    log.info("building docker compose from the Go module proxy (once)", {
      version: COMPOSE_VERSION,
      dir,
    });
    const source = JSON.parse(
      await run("go", ["mod", "download", "-json", `${MODULE}@${COMPOSE_VERSION}`], dir, "fetch"),
    ) as { Dir: string };
    // Its go.mod has exclude directives, so `go install m@v` refuses it; build in its own module.
    await run("go", ["build", "-trimpath", "-o", `${binary}.tmp`, "./cmd"], source.Dir, "build");
    await Deno.rename(`${binary}.tmp`, binary);
    return binary;
  } catch (err) {
    await Deno.writeTextFile(`${dir}/build.failed`, String((err as Error).message));
    throw err;
  }
}

/** Waits for a build another process runs (`deno task test`), or builds here. */
export async function awaitComposeBinary(
  cacheDir: string,
  log: Logger,
  building: boolean,
  timeoutMs = 15 * 60_000,
): Promise<string> {
  const dir = composeDir(cacheDir);
  const deadline = Date.now() + timeoutMs;
  while (building && Date.now() < deadline) {
    if (await exists(`${dir}/docker-compose`)) return `${dir}/docker-compose`;
    const failed = await Deno.readTextFile(`${dir}/build.failed`).catch(() => undefined);
    if (failed !== undefined) throw new Error(`building docker compose failed: ${failed}`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
  return await composeBinary(cacheDir, log);
}

/** Runs a command, showing progress every few seconds; its stdout, or an error with its output. */
async function run(
  cmd: string,
  args: string[],
  cwd: string,
  step: string,
): Promise<string> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).spawn();
  } catch (err) {
    throw new Error(
      `docker compose is built with the Go toolchain, and \`${cmd}\` failed to run: ${
        (err as Error).message
      }`,
    );
  }
  const started = Date.now();
  let lines = 0;
  const timer = setInterval(() => {
    const s = Math.round((Date.now() - started) / 1000);
    console.error(
      `  docker compose ${COMPOSE_VERSION}: ${step}, ${lines} modules fetched (${s} s)`,
    );
  }, 5_000);
  const errText: string[] = [];
  const pumpErr = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      for (const line of chunk.split("\n").filter(Boolean)) {
        if (line.startsWith("go: downloading")) lines++;
        errText.push(line);
        if (errText.length > 40) errText.shift();
      }
    }
  })();
  const out = new Response(child.stdout).text();
  const [status, stdout] = await Promise.all([child.status, out, pumpErr]);
  clearInterval(timer);
  if (!status.success) throw new Error(`${cmd} ${args.join(" ")} failed:\n${errText.join("\n")}`);
  return stdout;
}

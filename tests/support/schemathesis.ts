/**
 * Schemathesis (PyPI) in a virtual environment of its own under the cache directory, installed on
 * first use with the machine's `python3`. Pinned: a new release may add checks, and a test run
 * must mean the same thing tomorrow.
 */
import { loadConfig } from "../../lib/config.ts";

export const SCHEMATHESIS_VERSION = "4.32.5";

export type Installed = { bin: string } | { missing: string };

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return { ok: out.success, output: text };
  } catch (err) {
    return { ok: false, output: (err as Error).message };
  }
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** The `schemathesis` command, installed when missing; or why it cannot be. */
export async function schemathesis(): Promise<Installed> {
  const dir = `${loadConfig().cacheDir}/schemathesis-${SCHEMATHESIS_VERSION}`;
  const bin = `${dir}/bin/schemathesis`;
  if (await exists(`${dir}/.complete`)) return { bin };
  const python = await run("python3", ["--version"]);
  if (!python.ok) return { missing: `python3 is not available (${python.output.trim()})` };
  console.error(`installing schemathesis ${SCHEMATHESIS_VERSION} from PyPI into ${dir} (once)`);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(dir, { recursive: true });
  const venv = await run("python3", ["-m", "venv", dir]);
  if (!venv.ok) {
    return {
      missing: `python3 -m venv failed (Debian: apt-get install python3-venv): ${venv.output}`,
    };
  }
  const pip = await run(`${dir}/bin/pip`, [
    "install",
    "--quiet",
    "--disable-pip-version-check",
    `schemathesis==${SCHEMATHESIS_VERSION}`,
  ]);
  if (!pip.ok) return { missing: `pip install schemathesis failed: ${pip.output.slice(-2000)}` };
  await Deno.writeTextFile(`${dir}/.complete`, "");
  return { bin };
}

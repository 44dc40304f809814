/**
 * A real Chromium for browser tests: Debian's `chromium` package driven by npm `playwright-core`
 * over the DevTools protocol. `ensureChromium` installs the package when it is missing and this
 * user may (root, or password-less sudo); `launchChromium` starts a headless browser with a fresh
 * profile and no network beyond what the page asks of 127.0.0.1, or says why it cannot (then the
 * tests register as ignored, with one loud line).
 */
import type { Browser } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
  "--remote-debugging-address=127.0.0.1",
  "--remote-debugging-port=0",
];

async function installed(): Promise<boolean> {
  return await Deno.stat(CHROMIUM).then(() => true, () => false);
}

/** Installs Debian's chromium when it is missing; null when it is here, else why it is not. */
export async function ensureChromium(
  log: (msg: string) => void = (m) => console.error(m),
): Promise<string | null> {
  if (await installed()) return null;
  const root = Deno.uid() === 0;
  const sudo = root ? [] : ["sudo", "-n"];
  if (!root) {
    const can = await new Deno.Command("sudo", {
      args: ["-n", "true"],
      stdout: "null",
      stderr: "null",
    })
      .output().then((o) => o.success, () => false);
    if (!can) {
      return "chromium is not installed, and installing it needs root or password-less sudo";
    }
  }
  log("installing Chromium from Debian's packages (once): apt-get install chromium");
  const run = async (args: string[]) => {
    const [cmd, ...rest] = [...sudo, ...args];
    return await new Deno.Command(cmd!, {
      args: rest,
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdout: "null",
      stderr: "piped",
    }).output().catch((err) => ({ success: false, stderr: new TextEncoder().encode(String(err)) }));
  };
  await run(["apt-get", "update", "-qq"]);
  const out = await run(["apt-get", "install", "-y", "-qq", "chromium", "fonts-dejavu-core"]);
  if (!out.success || !await installed()) {
    return `apt-get install chromium failed: ${new TextDecoder().decode(out.stderr).trim()}`;
  }
  return null;
}

export interface LaunchedBrowser {
  browser: Browser;
  close(): Promise<void>;
}

/**
 * Why browser tests cannot run here (Chromium missing and not installable, playwright-core not
 * loadable), or null. For registering them with `ignore` before any test starts.
 */
export async function browserMissing(): Promise<string | null> {
  const missing = await ensureChromium();
  if (missing) return missing;
  try {
    await import("playwright-core");
    return null;
  } catch (err) {
    return `npm playwright-core cannot be loaded: ${(err as Error).message}`;
  }
}

/** A headless Chromium with a fresh profile, or why there is none. */
export async function launchChromium(): Promise<LaunchedBrowser | { skip: string }> {
  const missing = await browserMissing();
  if (missing) return { skip: missing };
  const playwright = await import("playwright-core");
  const profile = await Deno.makeTempDir({ prefix: "chromium-profile-" });
  const child = new Deno.Command(CHROMIUM, {
    args: [...FLAGS, `--user-data-dir=${profile}`, "about:blank"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const removeProfile = () => Deno.remove(profile, { recursive: true }).catch(() => {});
  // Chromium prints where its DevTools endpoint listens; the rest of its output is drained.
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const endpoint = await (async () => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    try {
      for (;;) {
        const { value, done } = await lines.read();
        if (done) return undefined;
        seen += value;
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(seen);
        if (m) return m[1];
      }
    } finally {
      clearTimeout(timer);
    }
  })();
  (async () => {
    for (;;) if ((await lines.read().catch(() => ({ done: true }))).done) return;
  })();
  if (!endpoint) {
    await child.status;
    await removeProfile();
    return { skip: `chromium did not start: ${seen.trim().split("\n").slice(-3).join(" | ")}` };
  }
  const browser = await playwright.chromium.connectOverCDP(endpoint);
  return {
    browser,
    async close() {
      await browser.close().catch(() => {});
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
      await removeProfile();
    },
  };
}

/**
 * Real Chromium for browser tests: Debian's `chromium` driven by npm `playwright-core`. Installs
 * the package when it is missing and this process may (root, or password-less sudo); when it
 * cannot, `browserUnavailable()` says why, so the tests register with `ignore: true` and say so.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** The flags of a quiet, sandboxed-off, headless Chromium on a closed network. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let checked: Promise<string | undefined> | undefined;

/** Undefined when a browser can be launched; otherwise the reason it cannot. */
export function browserUnavailable(): Promise<string | undefined> {
  return checked ??= check();
}

async function check(): Promise<string | undefined> {
  const why = await reason();
  // CI must run the browser tests, never report them ignored.
  if (why && Deno.env.get("SYNCHUB_REQUIRE_BROWSER")) {
    throw new Error(`a browser is required here (SYNCHUB_REQUIRE_BROWSER) but ${why}`);
  }
  return why;
}

async function reason(): Promise<string | undefined> {
  if (!(await exists(CHROMIUM))) {
    const installed = await installChromium();
    if (installed) return installed;
  }
  try {
    await import("playwright-core");
  } catch (err) {
    return `npm playwright-core could not be loaded (${(err as Error).message})`;
  }
  return undefined;
}

/** apt-get install chromium, as root or through sudo; the reason it failed otherwise. */
async function installChromium(): Promise<string | undefined> {
  const root = Deno.uid() === 0;
  const sudo = !root && await run(["sudo", "-n", "true"]);
  if (!root && !sudo) {
    return `${CHROMIUM} is missing and this user cannot install it (no root, no sudo)`;
  }
  const prefix = root ? [] : ["sudo", "-n"];
  console.error(
    `\n!! ${CHROMIUM} is missing: installing Debian's chromium (apt-get) for the browser tests\n`,
  );
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  await run([...prefix, "apt-get", "update", "-qq"], env);
  if (!(await run([...prefix, "apt-get", "install", "-y", "-qq", "chromium"], env))) {
    return "apt-get install chromium failed";
  }
  return (await exists(CHROMIUM)) ? undefined : `apt-get ran but ${CHROMIUM} is still missing`;
}

export interface RunningBrowser {
  browser: Browser;
  /** A fresh context (its own storage, service workers, network switch) and a page in it. */
  page(): Promise<{ context: BrowserContext; page: Page }>;
  close(): Promise<void>;
}

/** Chromium with a fresh profile (Playwright gives each launch its own user data directory). */
export async function launchBrowser(): Promise<RunningBrowser> {
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
  });
  return {
    browser,
    async page() {
      const context = await browser.newContext();
      return { context, page: await context.newPage() };
    },
    close: () => browser.close(),
  };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

async function run(cmd: string[], env: Record<string, string> = {}): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(cmd[0]!, {
      args: cmd.slice(1),
      env,
      stdin: "null",
      stdout: "null",
      stderr: "inherit",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/**
 * The dashboard's settings, from its environment (SPEC §8.4). The dashboard shares no code with
 * the other services — not even lib/config.ts — so this is its own one reader of variables:
 * checked together, every problem reported at once.
 */
export interface DashboardConfig {
  host: string;
  port: number;
  /** Where the page finds the sync control API. */
  apiUrl: string;
  /** Handed to the page; unset: the page asks for one. */
  apiToken: string | undefined;
}

export class DashboardConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

export function readDashboardConfig(env: Record<string, string | undefined>): DashboardConfig {
  const problems: string[] = [];
  const value = (name: string) => env[name]?.trim() || undefined;
  const portText = value("DASHBOARD_PORT") ?? "3000";
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port > 65535) {
    problems.push("DASHBOARD_PORT: must be a port number (0-65535)");
  }
  const apiUrl = (value("SYNC_API_URL") ?? `http://127.0.0.1:${value("SYNC_PORT") ?? "8070"}`)
    .replace(/\/+$/, "");
  try {
    if (!["http:", "https:"].includes(new URL(apiUrl).protocol)) throw new Error();
  } catch {
    problems.push("SYNC_API_URL: must be an http:// or https:// URL");
  }
  if (problems.length > 0) throw new DashboardConfigError(problems);
  return { host: value("HOST") ?? "127.0.0.1", port, apiUrl, apiToken: value("SYNC_API_TOKEN") };
}

/**
 * `deno task dashboard`: the sync dashboard (SPEC §8.4) on DASHBOARD_PORT (default 3000). The
 * page talks to the sync control API at SYNC_API_URL with SYNC_API_TOKEN (or a token it asks for).
 */
import { DashboardConfigError, readDashboardConfig } from "./config.ts";
import { dashboardHandler } from "./server.ts";

let config;
try {
  config = readDashboardConfig(Deno.env.toObject());
} catch (err) {
  if (!(err instanceof DashboardConfigError)) throw err;
  console.error(`\n${err.message}\n`);
  Deno.exit(1);
}
const server = Deno.serve(
  { hostname: config.host, port: config.port, onListen: () => {} },
  await dashboardHandler(config),
);
const log = (msg: string, fields: Record<string, unknown> = {}) =>
  console.error(
    JSON.stringify({
      ts: new Date().toISOString(),
      level: "info",
      component: "dashboard",
      msg,
      ...fields,
    }),
  );
const shown = config.host === "0.0.0.0" ? "127.0.0.1" : config.host;
log("dashboard listening", {
  url: `http://${shown}:${server.addr.port}`,
  api: config.apiUrl,
  token: config.apiToken ? "from SYNC_API_TOKEN" : "asked on the page",
});
await new Promise<void>((resolve) => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, resolve);
});
log("stopping");
await server.shutdown();

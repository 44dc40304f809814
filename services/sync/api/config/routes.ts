/**
 * The configuration (SPEC §8.3, mounted under /api/v1): shown with its secrets as `"***"`, and
 * replaced whole (apply_config.ts): validated, applied without a restart, written back to the file.
 */
import { Hono } from "hono";
import { applyConfig, type ApplyDeps } from "../../control/apply_config.ts";
import { redactConfig } from "../../control/config_secrets.ts";
import type { ControlEnv, JsonBody } from "../env.ts";

export function configApp(deps: ApplyDeps & { jsonBody: JsonBody }) {
  const app = new Hono<ControlEnv>();

  app.get("/config", (c) => c.json(redactConfig(deps.runtime.config)));

  app.put("/config", async (c) => {
    const input = await deps.jsonBody(c.req.raw);
    const done = await applyConfig(deps, input);
    return c.json(redactConfig(done.config), 200, {
      "x-sync-applied": done.applied.join(", "),
      "x-sync-restart-required": done.restart_required.join(", "),
    });
  });

  return app;
}

/** The configuration routes (config/routes.ts) as OpenAPI paths. */
import { body, errors, type Json, reply } from "../operation.ts";

export function configPaths(paths: Json): void {
  paths["/api/v1/config"] = {
    get: {
      summary: 'The configuration in effect (SPEC §8.1 shape), secrets as "***"',
      responses: { 200: reply("the configuration", "Config"), ...errors(401, 403) },
    },
    put: {
      summary: 'Replace the configuration: "***" keeps a stored secret; validated, applied ' +
        "without a restart, written back to the YAML file (comments and ${VAR} references kept). " +
        "Headers x-sync-applied and x-sync-restart-required say what changed",
      requestBody: body("Config"),
      responses: {
        200: reply("the configuration now in effect", "Config"),
        ...errors(400, 401, 403, 409, 413),
      },
    },
  };
}

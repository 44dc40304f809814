/** The conflicts routes (conflicts/routes.ts) as OpenAPI paths. */
import { body, errors, type Json, pathParam, queryParam, reply } from "../operation.ts";

export function conflictsPaths(paths: Json): void {
  paths["/api/v1/conflicts"] = {
    get: {
      summary: "Conflicts, oldest first (keyset pages)",
      parameters: [
        queryParam("status", "unresolved (default), resolved or all"),
        queryParam("table", "a table as named in the configuration"),
        queryParam("limit", "1–1000, default 100"),
        queryParam("after", "the `next` of the previous page"),
      ],
      responses: {
        200: {
          description: "{conflicts, next}",
          content: {
            "application/json": {
              schema: {
                type: "object",
                properties: {
                  conflicts: { type: "array", items: { $ref: "#/components/schemas/Conflict" } },
                  next: { type: ["string", "null"] },
                },
              },
            },
          },
        },
        ...errors(400, 401, 403),
      },
    },
  };
  paths["/api/v1/conflicts/{id}/resolve"] = {
    post: {
      summary: "Resolve a parked conflict: the chosen version is written to both sides",
      parameters: [pathParam("id")],
      requestBody: body("ResolveRequest"),
      responses: {
        200: reply("the resolved conflict", "Conflict"),
        ...errors(400, 401, 403, 404, 409, 503),
      },
    },
  };
}

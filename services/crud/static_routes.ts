/**
 * Files the CRUD service serves besides the API: the SDK as one ES module (`/sdk/synchub.js`,
 * any origin may load it) and the demo to-do page (`/demo/`, SPEC §9), whose service worker keeps
 * it working offline. In dev, `/demo/dev-token` hands the page a token for the demo bucket.
 */
import type { Hono } from "hono";
import { SyncError } from "../../lib/errors.ts";
import type { Logger } from "../../lib/log.ts";
import type { CrudEnv } from "./env.ts";
import { sdkBundle } from "./sdk_bundle.ts";

const DEMO_DIR = new URL("../../demo/", import.meta.url);
const DEMO_FILES: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
  "sw.js": "text/javascript; charset=utf-8",
};

export interface StaticDeps {
  log: Logger;
  /** Dev only: a token for the demo page's "use dev token" button. */
  devToken?: (() => Promise<string>) | undefined;
}

export function mountStatic(app: Hono<CrudEnv>, deps: StaticDeps): void {
  app.get("/sdk/synchub.js", async (c) => {
    const bundle = await sdkBundle().catch((err) => {
      deps.log.error("could not bundle the SDK", { err });
      throw new SyncError("unavailable", "the SDK bundle could not be built; see the service log");
    });
    const headers = {
      "content-type": "text/javascript; charset=utf-8",
      "cache-control": "no-cache",
      etag: bundle.etag,
      // A public file without credentials: pages on any origin may import it.
      "access-control-allow-origin": "*",
    };
    if (c.req.header("if-none-match") === bundle.etag) return c.body(null, 304, headers);
    return c.body(bundle.code, 200, headers);
  });

  app.get("/demo", (c) => c.redirect("/demo/", 301));
  app.get("/demo/dev-token", async (c) => {
    if (!deps.devToken) {
      throw new SyncError("not_found", "dev tokens exist only in `deno task dev`");
    }
    return c.json({ token: await deps.devToken() }, 200, { "cache-control": "no-store" });
  });
  const demoFile = async (file: string) => {
    const type = DEMO_FILES[file];
    if (!type) throw new SyncError("not_found", "no such file");
    return new Response(await Deno.readFile(new URL(file, DEMO_DIR)), {
      headers: {
        "content-type": type,
        // The service worker serves these offline; online, the page always asks for fresh ones.
        "cache-control": "no-cache",
      },
    });
  };
  app.get("/demo/", () => demoFile("index.html"));
  app.get("/demo/:file", (c) => demoFile(c.req.param("file")));
}

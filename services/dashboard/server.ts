/**
 * The dashboard's server: one page — static HTML, a few ES modules, CSS, all in public/ — and
 * `/config.json`, which tells the page where the sync control API is and, when SYNC_API_TOKEN
 * is set, the token to present. The page talks to the API itself (CORS: the sync service's
 * `cors_origins` must list this origin). The files are read once, at start.
 */
import type { DashboardConfig } from "./config.ts";

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
};

export async function dashboardHandler(
  config: Pick<DashboardConfig, "apiUrl" | "apiToken">,
): Promise<(req: Request) => Response> {
  const root = new URL("./public/", import.meta.url);
  const files = new Map<string, { body: Uint8Array<ArrayBuffer>; type: string }>();
  const walk = async (dir: URL, prefix: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
      if (entry.isDirectory) await walk(url, `${prefix}${entry.name}/`);
      const type = TYPES[entry.name.split(".").pop() ?? ""];
      if (entry.isFile && type) {
        files.set(`/${prefix}${entry.name}`, { body: await Deno.readFile(url), type });
      }
    }
  };
  await walk(root, "");
  files.set("/", files.get("/index.html")!);
  const settings: Uint8Array<ArrayBuffer> = new TextEncoder().encode(
    JSON.stringify({ apiUrl: config.apiUrl, token: config.apiToken ?? null }),
  );
  const api = new URL(config.apiUrl).origin;
  const security = {
    "content-security-policy":
      `default-src 'self'; connect-src 'self' ${api}; img-src 'self' data:; style-src 'self'; base-uri 'none'; frame-ancestors 'none'`,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  };

  return (req) => {
    const path = new URL(req.url).pathname;
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    if (path === "/health") return Response.json({ status: "ok", service: "dashboard" });
    if (path === "/config.json") {
      return new Response(settings, {
        headers: { "content-type": "application/json", "cache-control": "no-store", ...security },
      });
    }
    const file = files.get(path);
    if (!file) return new Response("not found\n", { status: 404, headers: security });
    return new Response(req.method === "HEAD" ? null : file.body, {
      headers: { "content-type": file.type, "cache-control": "no-cache", ...security },
    });
  };
}

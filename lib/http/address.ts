/** The address a request comes from, as rate limits and connection caps count it. */
import type { Context } from "hono";
import { getConnInfo } from "hono/deno";

/**
 * The client's address: the connection's or, behind a trusted proxy, the address that proxy saw —
 * the last X-Forwarded-For entry, the one it appended. The entries before it are the client's to
 * write, so taking the first would let a client pick a fresh address for every request.
 */
export function clientAddress(c: Context, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = c.req.header("x-forwarded-for")?.split(",").at(-1)?.trim();
    if (forwarded) return forwarded;
  }
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown"; // called without a connection (tests calling app.fetch)
  }
}

/**
 * Access tokens (SPEC §4, §7): HS256 JWTs carrying `sub`, `exp`, `buckets` and, for admins,
 * `role: "admin"` (`service` for one SyncHub service calling another).
 */
import { jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import { SyncError } from "./errors.ts";

const claimsSchema = z.object({
  sub: z.string().min(1),
  exp: z.number(),
  buckets: z.array(z.string().max(200)).max(10_000).default([]),
  /** `admin`: may do everything; `service`: one SyncHub service calling another. */
  role: z.string().max(64).optional(),
});

export type Claims = z.infer<typeof claimsSchema>;
export type TokenVerifier = (token: string) => Promise<Claims>;

/** Verified tokens remembered, so a client's every request is not another HMAC. */
const VERIFIED_CACHE_SIZE = 10_000;

export function createTokenVerifier(secret: string): TokenVerifier {
  const key = new TextEncoder().encode(secret);
  const verified = new Map<string, Claims>();
  return async (token) => {
    const known = verified.get(token);
    if (known) {
      if (known.exp * 1000 > Date.now()) return known;
      verified.delete(token);
    }
    const claims = await verifyOnce(token);
    if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
    verified.set(token, Object.freeze(claims));
    return claims;
  };

  async function verifyOnce(token: string): Promise<Claims> {
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms: ["HS256"],
        requiredClaims: ["exp"],
      }));
    } catch (err) {
      const reason = (err as { code?: string }).code === "ERR_JWT_EXPIRED"
        ? "token expired"
        : "invalid token";
      throw new SyncError("unauthorized", reason);
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) {
      throw new SyncError("unauthorized", "token lacks sub or has malformed buckets");
    }
    return claims.data;
  }
}

export async function signToken(
  secret: string,
  claims: { sub: string; buckets: readonly string[]; role?: string | undefined },
  ttlSeconds = 3600,
): Promise<string> {
  return await new SignJWT({
    buckets: [...claims.buckets],
    ...(claims.role ? { role: claims.role } : {}),
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(new TextEncoder().encode(secret));
}

/**
 * The token of a request: `Authorization: Bearer …` first, then `?token=` (browsers cannot set
 * headers on a WebSocket; `query: false` where they can).
 */
export function tokenFromRequest(
  req: Request,
  opts: { query: boolean } = { query: true },
): string | undefined {
  const header = req.headers.get("authorization");
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  if (match) return match[1];
  return opts.query ? new URL(req.url).searchParams.get("token") ?? undefined : undefined;
}

/** A short-lived token one SyncHub service presents to another; renewed before it expires. */
export function serviceTokens(secret: string, service: string): () => Promise<string> {
  let current: { token: string; until: number } | undefined;
  return async () => {
    if (!current || current.until < Date.now()) {
      const token = await signToken(secret, {
        sub: `synchub-${service}`,
        buckets: [],
        role: "service",
      }, 600);
      current = { token, until: Date.now() + 300_000 };
    }
    return current.token;
  };
}

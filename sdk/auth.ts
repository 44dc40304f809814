/**
 * Access tokens for the hub. The `token` option takes a token, a function returning one, or a
 * provider that can also refresh — such as `authSession`, which signs in with the REST API and
 * refreshes through `POST /v1/auth/refresh` before the access token expires.
 */
import { SyncHubError } from "./errors.ts";

export interface TokenProvider {
  /** A current access token. */
  token(): Promise<string>;
  /** A new access token, after the server refused the current one (401). */
  refresh(): Promise<string>;
}

export type TokenSource = string | (() => string | Promise<string>) | TokenProvider;

/** What `signIn` returns and `authSession` keeps: store it to stay signed in across reloads. */
export interface AuthTokens {
  access_token: string;
  refresh_token: string;
  /** When the access token expires, in ms since the epoch. */
  expires_at: number;
}

/** Signs in with email and password (`POST /v1/auth/login`). */
export async function signIn(url: string, email: string, password: string): Promise<AuthTokens> {
  return tokensFrom(await post(url, "/v1/auth/login", { email, password }));
}

export interface AuthSessionOptions {
  /** The REST API, e.g. `http://localhost:8000`. */
  url: string;
  /** The tokens as last saved (read again before each refresh: another tab may have rotated them). */
  load(): AuthTokens | null | Promise<AuthTokens | null>;
  /** Keeps new tokens (after a refresh), or forgets them (null: the session ended). */
  save(tokens: AuthTokens | null): void | Promise<void>;
}

/**
 * A signed-in session: hands out the access token, refreshed shortly before it expires. Refresh
 * tokens rotate, so refreshes are serialised (across tabs too, where Web Locks exist).
 */
export function authSession(opts: AuthSessionOptions): TokenProvider {
  let refreshing: Promise<string> | undefined;

  const refresh = (failed?: string): Promise<string> =>
    refreshing ??= withLock(`synchub-auth:${opts.url}`, async () => {
      const tokens = await opts.load();
      if (!tokens) throw new SyncHubError("unauthorized", "not signed in", 401);
      // Another tab refreshed meanwhile: its token will do.
      if (tokens.access_token !== failed && !expiresSoon(tokens)) return tokens.access_token;
      try {
        const next = tokensFrom(
          await post(opts.url, "/v1/auth/refresh", { refresh_token: tokens.refresh_token }),
        );
        await opts.save(next);
        return next.access_token;
      } catch (err) {
        if (err instanceof SyncHubError && err.status === 401) {
          // Rotated by someone else a moment ago: their tokens are saved by now, or soon.
          const saved = await opts.load();
          if (saved && saved.refresh_token !== tokens.refresh_token) return saved.access_token;
          await opts.save(null);
        }
        throw err;
      }
    }).finally(() => refreshing = undefined);

  return {
    async token() {
      const tokens = await opts.load();
      if (!tokens) throw new SyncHubError("unauthorized", "not signed in", 401);
      if (!expiresSoon(tokens)) return tokens.access_token;
      return await refresh(tokens.access_token).catch((err) => {
        // Offline: the old token is still worth a try (it may not have expired yet).
        if (err instanceof SyncHubError && err.status === 401) throw err;
        return tokens.access_token;
      });
    },
    refresh: async () => await refresh((await opts.load())?.access_token),
  };
}

/** Refresh when a tenth of the token's life (at least 30 s, at most 5 min) is left. */
function expiresSoon(t: AuthTokens, now = Date.now()): boolean {
  const life = jwtLifetimeMs(t.access_token) ?? 900_000;
  const margin = Math.min(300_000, Math.max(30_000, life / 10));
  return t.expires_at - now < margin;
}

/** `exp - iat` of a JWT, in ms, when it says. */
export function jwtLifetimeMs(token: string): number | undefined {
  const claims = jwtClaims(token);
  return typeof claims?.exp === "number" && typeof claims.iat === "number"
    ? (claims.exp - claims.iat) * 1000
    : undefined;
}

export function jwtClaims(token: string): { exp?: unknown; iat?: unknown } | undefined {
  try {
    const part = token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part.padEnd(Math.ceil(part.length / 4) * 4, "=")));
  } catch {
    return undefined;
  }
}

function tokensFrom(body: unknown): AuthTokens {
  const b = body as { access_token?: unknown; refresh_token?: unknown; expires_in?: unknown };
  if (typeof b?.access_token !== "string" || typeof b.refresh_token !== "string") {
    throw new SyncHubError("bad_response", "the hub's answer carries no tokens");
  }
  const expiresIn = typeof b.expires_in === "number" ? b.expires_in : 900;
  return {
    access_token: b.access_token,
    refresh_token: b.refresh_token,
    expires_at: Date.now() + expiresIn * 1000,
  };
}

async function post(url: string, path: string, body: unknown): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(new URL(path, url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch (err) {
    throw new SyncHubError("offline", `the hub is unreachable: ${(err as Error).message}`);
  }
  const json = await res.json().catch(() => undefined);
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string } })?.error;
    throw new SyncHubError(e?.code ?? "http_error", e?.message ?? `HTTP ${res.status}`, res.status);
  }
  return json;
}

interface LockManager {
  request<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/** Runs `fn` holding a Web Lock when the platform has them (browsers), else directly. */
function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const locks = (globalThis.navigator as { locks?: LockManager } | undefined)?.locks;
  return locks ? locks.request(name, fn) : fn();
}

/** Resolves a TokenSource into the two things the hub needs. */
export class Tokens {
  private refreshing: Promise<string | undefined> | undefined;

  constructor(private readonly source: TokenSource) {}

  async get(): Promise<string> {
    const s = this.source;
    return typeof s === "string" ? s : typeof s === "function" ? await s() : await s.token();
  }

  /**
   * A fresh token after `failed` was refused, or undefined when there is none to be had (a fixed
   * token, or the function returned the same one again).
   */
  refresh(failed: string): Promise<string | undefined> {
    return this.refreshing ??= (async () => {
      const s = this.source;
      if (typeof s === "string") return undefined;
      const next = typeof s === "function" ? await s() : await s.refresh();
      return next === failed ? undefined : next;
    })().finally(() => this.refreshing = undefined);
  }
}

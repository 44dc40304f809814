/**
 * Users, their buckets and their refresh tokens, in the hub's schema. Every user gets a personal
 * bucket at registration; admins grant more. Refresh tokens rotate: each use consumes the token
 * and issues the next of its family; a consumed token presented again (a stolen copy replayed)
 * revokes the whole family.
 */
import { SyncError } from "../../../lib/errors.ts";
import {
  hashPassword,
  needsRehash,
  randomToken,
  sha256Hex,
  verifyPassword,
} from "../../../lib/password.ts";
import { PasswordSlots } from "../../../lib/password_slots.ts";
import { UUID } from "../../../lib/uuid.ts";
import { fromPgError } from "../../../lib/postgres/errors.ts";
import { type Pool, withTransaction } from "../../../lib/postgres/pool.ts";

export interface User {
  id: string;
  email: string;
  admin: boolean;
  buckets: string[];
}

export interface UserStoreOptions {
  passwordIterations: number;
  refreshTokenTtlMs: number;
  adminEmails: readonly string[];
  /** The process's hashing slots (PASSWORD_HASH_CONCURRENCY); unset: 2 slots, 32 waiting. */
  slots?: PasswordSlots | undefined;
}

/**
 * A refresh token presented again within this many seconds of its use is taken for a concurrent
 * refresh by the same client, not a replay: refused, but its family is not revoked.
 */
const REUSE_GRACE_SECONDS = 10;

/** Addresses compare case-insensitively: `Ada@Example.com` is `ada@example.com`. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** The bucket a user owns from the start. */
export function personalBucket(userId: string): string {
  return `user:${userId}`;
}

export class UserStore {
  /** Compared against when the email is unknown, so a login takes as long either way. */
  private readonly decoy: Promise<string>;
  private readonly slots: PasswordSlots;

  constructor(private readonly pool: Pool, private readonly opts: UserStoreOptions) {
    this.slots = opts.slots ?? new PasswordSlots({ concurrency: 2, maxQueued: 32 });
    // Once, at start-up: no request waits for it.
    this.decoy = hashPassword(randomToken(), opts.passwordIterations);
  }

  /** Every hash and verification goes through the slots: the cheap checks come before. */
  private hash(password: string): Promise<string> {
    return this.slots.run(() => hashPassword(password, this.opts.passwordIterations));
  }

  async register(email: string, password: string): Promise<User> {
    const normalized = normalizeEmail(email);
    // A taken address is refused before any hashing.
    const { rows: taken } = await this.query("SELECT 1 FROM synchub.users WHERE email = $1", [
      normalized,
    ]);
    if (taken.length > 0) {
      throw new SyncError("conflict", "an account with this email already exists");
    }
    const hash = await this.hash(password);
    return await withTransaction(this.pool, async (db) => {
      const { rows: [row] } = await db.query<{ id: string }>(
        "INSERT INTO synchub.users (email, password_hash, is_admin) VALUES ($1, $2, $3) RETURNING id",
        [normalized, hash, this.opts.adminEmails.includes(normalized)],
      ).catch((err) => {
        if ((err as { code?: string }).code === "23505") {
          throw new SyncError("conflict", "an account with this email already exists");
        }
        throw err;
      });
      await db.query("INSERT INTO synchub.user_buckets (user_id, bucket) VALUES ($1, $2)", [
        row!.id,
        personalBucket(row!.id),
      ]);
      return await this.load(db, row!.id) as User;
    });
  }

  /** The user for these credentials; one generic 401 for an unknown email or a wrong password. */
  async authenticate(email: string, password: string): Promise<User> {
    const { rows: [row] } = await this.query<{ id: string; password_hash: string }>(
      "SELECT id, password_hash FROM synchub.users WHERE email = $1",
      [normalizeEmail(email)],
    );
    // An unknown address costs a verification too, in the same slots: timing tells nothing.
    const stored = row?.password_hash ?? await this.decoy;
    const ok = await this.slots.run(() => verifyPassword(password, stored));
    if (!row || !ok) throw new SyncError("unauthorized", "wrong email or password");
    if (needsRehash(row.password_hash, this.opts.passwordIterations)) {
      const hash = await this.hash(password);
      await this.query("UPDATE synchub.users SET password_hash = $2 WHERE id = $1", [row.id, hash]);
    }
    return (await this.get(row.id))!;
  }

  async get(id: string): Promise<User | undefined> {
    return await this.load(this.pool, id);
  }

  /** A new refresh token for the user, in a new family or continuing one. */
  async issueRefreshToken(
    userId: string,
    family: string = crypto.randomUUID(),
    db: Pick<Pool, "query"> = this.pool,
  ) {
    const token = randomToken();
    await db.query(
      `INSERT INTO synchub.refresh_tokens (user_id, family, token_hash, expires_at)
       VALUES ($1, $2, $3, now() + make_interval(secs => $4))`,
      [userId, family, await sha256Hex(token), this.opts.refreshTokenTtlMs / 1000],
    ).catch((err) => {
      throw fromPgError(err);
    });
    return token;
  }

  /** Consumes a refresh token; returns its user and the next token of the family. */
  async rotate(token: string): Promise<{ user: User; refreshToken: string }> {
    const hash = await sha256Hex(token);
    const result = await withTransaction(this.pool, async (db) => {
      const { rows: [row] } = await db.query<
        {
          id: string;
          user_id: string;
          family: string;
          expired: boolean;
          used: boolean;
          just_used: boolean;
          revoked: boolean;
        }
      >(
        // Revoked if any token of its family is: a revocation racing a rotation cannot see the
        // token that rotation inserts, but it marks the family's older tokens, which this sees.
        `SELECT t.id, t.user_id, t.family, t.expires_at < now() AS expired,
                t.used_at IS NOT NULL AS used,
                t.used_at > now() - make_interval(secs => $2) AS just_used,
                EXISTS (SELECT 1 FROM synchub.refresh_tokens f
                         WHERE f.family = t.family AND f.revoked_at IS NOT NULL) AS revoked
           FROM synchub.refresh_tokens t WHERE t.token_hash = $1 FOR UPDATE OF t`,
        [hash, REUSE_GRACE_SECONDS],
      );
      if (!row) return { error: "unknown refresh token" } as const;
      if (row.revoked) return { error: "refresh token revoked" } as const;
      if (row.used && row.just_used) {
        // Two tabs refreshing at once, or a retried request: not a theft. The first got the
        // tokens; this one is refused without ending the session.
        return { error: "refresh token already used a moment ago; use the newer one" } as const;
      }
      if (row.used) {
        // Replay of a consumed token: someone else holds this family. End it for everyone.
        await db.query("UPDATE synchub.refresh_tokens SET revoked_at = now() WHERE family = $1", [
          row.family,
        ]);
        return {
          error: "refresh token already used; every session of its family is revoked",
        } as const;
      }
      if (row.expired) return { error: "refresh token expired" } as const;
      await db.query("UPDATE synchub.refresh_tokens SET used_at = now() WHERE id = $1", [row.id]);
      const user = await this.load(db, row.user_id);
      if (!user) return { error: "the account no longer exists" } as const;
      return { user, refreshToken: await this.issueRefreshToken(user.id, row.family, db) };
    });
    // The revocation above must commit even though the request is refused.
    if ("error" in result) throw new SyncError("unauthorized", result.error);
    return result;
  }

  /** Logs a session out: revokes the family of this refresh token. */
  async revoke(token: string): Promise<void> {
    await this.query(
      `UPDATE synchub.refresh_tokens SET revoked_at = now()
        WHERE family = (SELECT family FROM synchub.refresh_tokens WHERE token_hash = $1)`,
      [await sha256Hex(token)],
    );
  }

  async grant(userId: string, bucket: string): Promise<User> {
    if (!(await this.get(userId))) throw new SyncError("not_found", "no such user");
    try {
      await this.pool.query(
        "INSERT INTO synchub.user_buckets (user_id, bucket) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        [userId, bucket],
      );
    } catch (err) {
      // The user was deleted between the check and the insert.
      if ((err as { code?: string }).code === "23503") {
        throw new SyncError("not_found", "no such user");
      }
      throw fromPgError(err);
    }
    return (await this.get(userId))!;
  }

  async ungrant(userId: string, bucket: string): Promise<User> {
    await this.query("DELETE FROM synchub.user_buckets WHERE user_id = $1 AND bucket = $2", [
      userId,
      bucket,
    ]);
    const user = await this.get(userId);
    if (!user) throw new SyncError("not_found", "no such user");
    return user;
  }

  private async load(db: Pick<Pool, "query">, id: string): Promise<User | undefined> {
    if (!UUID.test(id)) return undefined;
    const { rows: [row] } = await db.query<
      { id: string; email: string; is_admin: boolean; buckets: string[] | null }
    >(
      `SELECT u.id, u.email, u.is_admin,
              array_agg(b.bucket ORDER BY b.granted_at) FILTER (WHERE b.bucket IS NOT NULL) AS buckets
         FROM synchub.users u LEFT JOIN synchub.user_buckets b ON b.user_id = u.id
        WHERE u.id = $1 GROUP BY u.id`,
      [id],
    ).catch((err) => {
      throw fromPgError(err);
    });
    return row && { id: row.id, email: row.email, admin: row.is_admin, buckets: row.buckets ?? [] };
  }

  private async query<T extends Record<string, unknown>>(text: string, params: unknown[]) {
    try {
      return await this.pool.query<T>(text, params);
    } catch (err) {
      throw fromPgError(err);
    }
  }
}

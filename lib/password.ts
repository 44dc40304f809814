/**
 * Password hashing with WebCrypto's PBKDF2-SHA256 (600,000 iterations by default, OWASP's 2023
 * figure), a random 16-byte salt per password, and a constant-time comparison. The stored form
 * names its parameters, so the cost can rise later without invalidating old hashes.
 */

const PREFIX = "pbkdf2-sha256";

export async function hashPassword(password: string, iterations: number): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const hash = await derive(password, salt, iterations);
  return `${PREFIX}$${iterations}$${b64(salt)}$${b64(hash)}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, iter, salt, hash] = stored.split("$");
  const iterations = Number(iter);
  if (scheme !== PREFIX || !Number.isSafeInteger(iterations) || iterations < 1 || !salt || !hash) {
    return false;
  }
  const expected = unb64(hash);
  const actual = await derive(password, unb64(salt), iterations);
  return constantTimeEqual(actual, expected);
}

/** Whether a stored hash is weaker than today's setting (rehash it at the next login). */
export function needsRehash(stored: string, iterations: number): boolean {
  return Number(stored.split("$")[1]) < iterations;
}

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(password),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: salt as BufferSource, iterations },
    key,
    256,
  );
  return new Uint8Array(bits);
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

function b64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function unb64(text: string): Uint8Array {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return new Uint8Array(0);
  }
}

/** SHA-256 of a secret token, hex: what is stored in place of the token. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A random token for the wire: 32 bytes, base64url. */
export function randomToken(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

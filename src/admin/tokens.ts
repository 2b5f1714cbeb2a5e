/**
 * Login tokens of the admin API: random, kept in memory only (a restart logs everyone out), and
 * bounded. The map is keyed by the SHA-256 of the token, so a lookup's timing says nothing about
 * the token itself and a heap dump does not hand out live tokens.
 */
import { createHash, randomBytes } from "node:crypto";
import { assert } from "../errors.ts";
import { TOKEN_BYTES, TOKENS_MAX } from "./limits.ts";

export interface IssuedToken {
  readonly token: string;
  readonly expiresAtMs: number;
}

function digest(token: string): string {
  return createHash("sha256").update(token).digest("base64url");
}

export class TokenStore {
  readonly #ttlMs: number;
  readonly #countMax: number;
  readonly #now: () => number;
  /** Token digest -> expiry (ms since epoch), oldest first (Map keeps insertion order). */
  readonly #expiries = new Map<string, number>();

  constructor(ttlS: number, now: () => number = Date.now, countMax = TOKENS_MAX) {
    assert(ttlS > 0 && countMax > 0, "token ttl and count must be positive");
    this.#ttlMs = ttlS * 1000;
    this.#now = now;
    this.#countMax = countMax;
  }

  get size(): number {
    return this.#expiries.size;
  }

  issue(): IssuedToken {
    const nowMs = this.#now();
    this.#purgeExpired(nowMs);
    while (this.#expiries.size >= this.#countMax) {
      const oldest = this.#expiries.keys().next().value as string;
      this.#expiries.delete(oldest);
    }
    const token = randomBytes(TOKEN_BYTES).toString("base64url");
    const expiresAtMs = nowMs + this.#ttlMs;
    this.#expiries.set(digest(token), expiresAtMs);
    assert(this.#expiries.size <= this.#countMax, "token store bound");
    return { token, expiresAtMs };
  }

  /** True if `token` was issued here and has not expired. */
  valid(token: string): boolean {
    const key = digest(token);
    const expiresAtMs = this.#expiries.get(key);
    if (expiresAtMs === undefined) return false;
    if (this.#now() >= expiresAtMs) {
      this.#expiries.delete(key);
      return false;
    }
    return true;
  }

  /** Tokens are issued in expiry order (one ttl), so the expired ones are at the front. */
  #purgeExpired(nowMs: number): void {
    for (const [key, expiresAtMs] of this.#expiries) {
      if (expiresAtMs > nowMs) break;
      this.#expiries.delete(key);
    }
  }
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)[ ]*$/i.exec(header);
  return match === null ? null : match[1];
}

/**
 * Built-in users: names with a salted scrypt password hash and a superuser flag, kept in the
 * security store's `users` database and managed through the admin API. Each record also keeps
 * the user's SCRAM-SHA-256/512 credentials, derived when the password is set, because a SCRAM
 * exchange (Kafka's SASL) needs keys derived from the password, not the scrypt hash.
 *
 * `BuiltInUsers.load(db)` reads every record once into a Map; checks never touch the disk.
 * A write waits for LMDB to report it flushed and only then changes the Map, so what a caller
 * was told succeeded survives a crash, and a failed write changes nothing.
 *
 * Checking a password costs one scrypt run (~50 ms in libuv's thread pool, which DNS lookups
 * and file I/O share), so at most PASSWORD_CHECKS_IN_FLIGHT_MAX run at once and at most
 * PASSWORD_CHECK_QUEUE_MAX wait, first come first served; beyond that a login is refused as
 * "server busy" rather than queued without end. Successful checks are remembered (bounded) so
 * a reconnecting client does not pay scrypt again; see #cacheKey for why an old password can
 * never hit that cache.
 */

import { createHash } from "node:crypto";
import type { Database } from "lmdb";
import { assert, ErrorCode, RobustMQError } from "../../errors.ts";
import { lmdbWrite } from "../../storage/lmdb-writes.ts";
import { hashPassword, parsePasswordHash, verifyPassword } from "../passwords.ts";
import {
  deriveScramCredential,
  isScramCredential,
  isScramMechanism,
  type ScramCredential,
  type ScramMechanism,
} from "../scram.ts";
import type { StoredUser } from "../store.ts";
import type { Authenticator, AuthnResult, Credentials } from "../types.ts";

/** MQTT's limit on a user name (a UTF-8 string) and on a password (binary data). */
export const USERNAME_BYTES_MAX = 65_535;
export const PASSWORD_BYTES_MAX = 65_535;
/** scrypt runs at once; libuv's pool has 4 threads by default, shared with fs and DNS. */
export const PASSWORD_CHECKS_IN_FLIGHT_MAX = 4;
/** Checks waiting for a slot; at ~50 ms each, a full queue drains in about 13 s. */
export const PASSWORD_CHECK_QUEUE_MAX = 1024;
/** Remembered successful checks (32-byte digests, so about 100 bytes each with the Map). */
export const VERIFIED_CACHE_ENTRIES_MAX = 10_000;

export const SERVER_BUSY_REASON = "server busy";

/** What callers see of a user: never the password hash nor the SCRAM credentials. */
export interface UserView {
  readonly username: string;
  readonly superuser: boolean;
  readonly createdAtMs: number;
}

/** Limits a test (or a small node) may lower; the defaults are the constants above. */
export interface BuiltInUsersOptions {
  readonly checksInFlightMax?: number;
  readonly checkQueueMax?: number;
  readonly cacheEntriesMax?: number;
}

export class BuiltInUsers implements Authenticator {
  readonly name = "built_in" as const;
  readonly #db: Database<StoredUser, string>;
  readonly #users: Map<string, StoredUser>;
  readonly #limiter: CheckLimiter;
  /** Digest of (username, password, stored hash) -> username, oldest first. */
  readonly #verified = new Map<string, string>();
  readonly #cacheEntriesMax: number;
  /** Writes run one at a time so a check-then-write (add: "does it exist?") cannot race. */
  #writeTail: Promise<void> = Promise.resolve();

  private constructor(
    db: Database<StoredUser, string>,
    users: Map<string, StoredUser>,
    options: BuiltInUsersOptions,
  ) {
    this.#db = db;
    this.#users = users;
    this.#limiter = new CheckLimiter(
      options.checksInFlightMax ?? PASSWORD_CHECKS_IN_FLIGHT_MAX,
      options.checkQueueMax ?? PASSWORD_CHECK_QUEUE_MAX,
    );
    this.#cacheEntriesMax = options.cacheEntriesMax ?? VERIFIED_CACHE_ENTRIES_MAX;
    assert(this.#cacheEntriesMax >= 0, "cache size must not be negative");
  }

  /**
   * Reads every stored user into memory. Throws RMQ_ERR_STORAGE_CORRUPT when a record is not
   * a user (wrong shape, key not its name, unparsable hash): starting without it would
   * silently lock that user out.
   */
  static load(db: Database<StoredUser, string>, options: BuiltInUsersOptions = {}): BuiltInUsers {
    const users = new Map<string, StoredUser>();
    for (const { key, value } of db.getRange()) {
      if (typeof key !== "string" || !isStoredUser(value) || value.username !== key) {
        throw new RobustMQError(
          ErrorCode.STORAGE_CORRUPT,
          `security store: the built-in user record "${String(key)}" is damaged`,
        );
      }
      users.set(key, value);
    }
    return new BuiltInUsers(db, users, options);
  }

  get count(): number {
    return this.#users.size;
  }

  /** Every user, sorted by name. */
  list(): UserView[] {
    const names = [...this.#users.keys()].sort();
    return names.map((name) => viewOf(this.#users.get(name)!));
  }

  get(username: string): UserView | undefined {
    const user = this.#users.get(username);
    return user === undefined ? undefined : viewOf(user);
  }

  /**
   * The user's SCRAM credential for `mechanism`; undefined for an unknown user or one stored
   * before SCRAM credentials existed (a ScramServerExchange treats both alike).
   */
  scramCredential(username: string, mechanism: ScramMechanism): ScramCredential | undefined {
    return this.#users.get(username)?.scram?.[mechanism];
  }

  /**
   * Adds a user. Throws RMQ_ERR_ADMIN_INVALID_REQUEST for an empty or too long name or
   * password, or when the user exists; the store's error when the write fails.
   */
  async add(username: string, password: string, superuser: boolean): Promise<UserView> {
    checkUsername(username);
    checkPassword(password);
    if (this.#users.has(username)) throw userExists(username);
    // Hash outside the write lock: it is the slow part and needs no shared state.
    const { passwordHash, scram } = await derivePasswordSecrets(password);
    return this.#exclusive(async () => {
      if (this.#users.has(username)) throw userExists(username);
      const createdAtMs = Date.now();
      const user: StoredUser = { username, superuser, createdAtMs, passwordHash, scram };
      assert(isStoredUser(user), "a user record is well-formed before it is written");
      await lmdbWrite(this.#db.put(username, user));
      this.#users.set(username, user);
      return viewOf(user);
    });
  }

  /**
   * Changes the password and/or the superuser flag. Throws RMQ_ERR_ADMIN_NOT_FOUND when the
   * user does not exist, RMQ_ERR_ADMIN_INVALID_REQUEST for an empty or too long password.
   */
  async update(
    username: string,
    changes: { readonly password?: string; readonly superuser?: boolean },
  ): Promise<UserView> {
    if (!this.#users.has(username)) throw userNotFound(username);
    if (changes.password !== undefined) checkPassword(changes.password);
    const secrets =
      changes.password === undefined ? undefined : await derivePasswordSecrets(changes.password);
    return this.#exclusive(async () => {
      const current = this.#users.get(username);
      if (current === undefined) throw userNotFound(username);
      const passwordHash = secrets?.passwordHash ?? current.passwordHash;
      const scram = secrets?.scram ?? current.scram;
      const user: StoredUser = {
        username,
        superuser: changes.superuser ?? current.superuser,
        createdAtMs: current.createdAtMs,
        passwordHash,
        // No `scram: undefined` key: an old record stays shaped as it was.
        ...(scram === undefined ? {} : { scram }),
      };
      assert(isStoredUser(user), "a user record is well-formed before it is written");
      await lmdbWrite(this.#db.put(username, user));
      this.#users.set(username, user);
      this.#forget(username);
      return viewOf(user);
    });
  }

  /** Removes a user; false when there was none. */
  async delete(username: string): Promise<boolean> {
    return this.#exclusive(async () => {
      if (!this.#users.has(username)) return false;
      await lmdbWrite(this.#db.remove(username));
      this.#users.delete(username);
      this.#forget(username);
      return true;
    });
  }

  async authenticate(credentials: Credentials): Promise<AuthnResult> {
    const { username, password } = credentials;
    if (username === undefined) return { result: "ignore", reason: "no user name" };
    const user = this.#users.get(username);
    if (user === undefined) return { result: "ignore", reason: "unknown user" };
    if (password === undefined) return { result: "deny", reason: "no password" };
    if (this.#verified.has(cacheKey(username, password, user.passwordHash))) {
      return { result: "allow", superuser: user.superuser };
    }
    const turn = this.#limiter.acquire();
    if (turn === null) return { result: "deny", reason: SERVER_BUSY_REASON };
    await turn;
    try {
      return await this.#check(username, password);
    } finally {
      this.#limiter.release();
    }
  }

  /** The scrypt check, holding a limiter slot. */
  async #check(username: string, password: Buffer): Promise<AuthnResult> {
    // Read the user again: it may have changed while this check waited for its turn.
    const before = this.#users.get(username);
    if (before === undefined) return { result: "ignore", reason: "unknown user" };
    const key = cacheKey(username, password, before.passwordHash);
    // A twin login queued ahead of this one may have just verified the same password.
    if (this.#verified.has(key)) return { result: "allow", superuser: before.superuser };
    const ok = await verifyPassword(password, before.passwordHash);
    // Answer for what is stored now, so a change or delete made while scrypt ran wins.
    const after = this.#users.get(username);
    if (after === undefined) return { result: "ignore", reason: "unknown user" };
    if (after.passwordHash !== before.passwordHash) {
      return { result: "deny", reason: "password changed during the check" };
    }
    if (!ok) return { result: "deny", reason: "wrong password" };
    this.#remember(key, username);
    return { result: "allow", superuser: after.superuser };
  }

  /** How many successful checks are remembered (for tests and metrics). */
  get cachedVerificationCount(): number {
    return this.#verified.size;
  }

  /** Password checks running or waiting (for tests and metrics). */
  get pendingCheckCount(): number {
    return this.#limiter.pendingCount;
  }

  #remember(key: string, username: string): void {
    if (this.#cacheEntriesMax === 0) return;
    this.#verified.delete(key);
    while (this.#verified.size >= this.#cacheEntriesMax) {
      const oldest = this.#verified.keys().next().value as string;
      this.#verified.delete(oldest);
    }
    this.#verified.set(key, username);
    assert(this.#verified.size <= this.#cacheEntriesMax, "verified cache over its bound");
  }

  /**
   * Drops a user's remembered checks. The key already holds the stored hash, so an entry for
   * an old hash could never match again; dropping it also frees the memory at once.
   */
  #forget(username: string): void {
    for (const [key, name] of this.#verified) {
      if (name === username) this.#verified.delete(key);
    }
  }

  async #exclusive<T>(write: () => Promise<T>): Promise<T> {
    const previous = this.#writeTail;
    let release: () => void = () => {};
    this.#writeTail = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    try {
      return await write();
    } finally {
      release();
    }
  }
}

/**
 * A FIFO gate: at most `inFlightMax` holders, at most `queueMax` waiting. `acquire` gives a
 * promise that resolves once the caller holds a slot, or null when the queue is full; every
 * resolved acquire is paired with one `release`.
 */
class CheckLimiter {
  readonly #inFlightMax: number;
  readonly #queueMax: number;
  #inFlight = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(inFlightMax: number, queueMax: number) {
    assert(Number.isInteger(inFlightMax) && inFlightMax >= 1, "need at least one check slot");
    assert(Number.isInteger(queueMax) && queueMax >= 0, "queue bound must not be negative");
    this.#inFlightMax = inFlightMax;
    this.#queueMax = queueMax;
  }

  get pendingCount(): number {
    return this.#inFlight + this.#waiting.length;
  }

  acquire(): Promise<void> | null {
    if (this.#inFlight < this.#inFlightMax) {
      this.#inFlight += 1;
      return Promise.resolve();
    }
    if (this.#waiting.length >= this.#queueMax) return null;
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      assert(this.#waiting.length <= this.#queueMax, "check queue over its bound");
    });
  }

  release(): void {
    assert(this.#inFlight > 0, "release without acquire");
    const next = this.#waiting.shift();
    // The slot passes straight to the next waiter, so #inFlight stays the same.
    if (next === undefined) this.#inFlight -= 1;
    else next();
    assert(this.#inFlight <= this.#inFlightMax, "more checks in flight than allowed");
  }
}

/**
 * The cache key: SHA-256 of the user name, the password and the stored hash string, each
 * length-prefixed so no two different triples share an input. Because the stored hash is in
 * the key, a password change (new salt and hash) or a delete and re-add makes every earlier
 * entry unreachable, whatever the password was.
 */
function cacheKey(username: string, password: Buffer, passwordHash: string): string {
  const digest = createHash("sha256");
  for (const part of [Buffer.from(username, "utf8"), password, Buffer.from(passwordHash)]) {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(part.length);
    digest.update(length).update(part);
  }
  return digest.digest("base64");
}

function viewOf(user: StoredUser): UserView {
  return { username: user.username, superuser: user.superuser, createdAtMs: user.createdAtMs };
}

/** The scrypt hash and both SCRAM credentials of a password, derived in parallel. */
async function derivePasswordSecrets(
  password: string,
): Promise<{ passwordHash: string; scram: Record<ScramMechanism, ScramCredential> }> {
  const [passwordHash, sha256, sha512] = await Promise.all([
    hashPassword(password),
    deriveScramCredential("SCRAM-SHA-256", password),
    deriveScramCredential("SCRAM-SHA-512", password),
  ]);
  return { passwordHash, scram: { "SCRAM-SHA-256": sha256, "SCRAM-SHA-512": sha512 } };
}

function isStoredUser(value: unknown): value is StoredUser {
  if (value === null || typeof value !== "object") return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.username === "string" &&
    typeof v.superuser === "boolean" &&
    typeof v.createdAtMs === "number" &&
    typeof v.passwordHash === "string" &&
    parsePasswordHash(v.passwordHash) !== null &&
    (v.scram === undefined || isScramCredentials(v.scram))
  );
}

/** Credentials keyed by mechanism, each of the right shape for its mechanism. */
function isScramCredentials(value: unknown): value is StoredUser["scram"] {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  return Object.entries(value).every(
    ([mechanism, credential]) =>
      isScramMechanism(mechanism) && isScramCredential(credential, mechanism),
  );
}

function checkUsername(username: string): void {
  if (username === "") throw invalid("the user name is empty");
  if (Buffer.byteLength(username, "utf8") > USERNAME_BYTES_MAX) {
    throw invalid(`the user name is longer than ${USERNAME_BYTES_MAX} bytes (UTF-8)`);
  }
}

function checkPassword(password: string): void {
  if (password === "") throw invalid("the password is empty");
  if (Buffer.byteLength(password, "utf8") > PASSWORD_BYTES_MAX) {
    throw invalid(`the password is longer than ${PASSWORD_BYTES_MAX} bytes (UTF-8)`);
  }
}

function invalid(why: string): RobustMQError {
  return new RobustMQError(ErrorCode.ADMIN_INVALID_REQUEST, why);
}

function userExists(username: string): RobustMQError {
  return new RobustMQError(ErrorCode.ADMIN_INVALID_REQUEST, `user "${username}" already exists`);
}

function userNotFound(username: string): RobustMQError {
  return new RobustMQError(ErrorCode.ADMIN_NOT_FOUND, `no user "${username}"`);
}

/**
 * Password hashing with scrypt, shared by the built-in users and the admin credentials.
 *
 * A hash is stored as one string, "scrypt$N$r$p$<salt base64>$<hash base64>", so the cost
 * parameters travel with it: a later change of SCRYPT_PARAMS keeps old hashes verifiable.
 * scrypt is slow on purpose (tens of milliseconds) and runs in libuv's thread pool; callers on
 * a hot path bound how many checks they start at once (see authn/built-in.ts).
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { assert } from "../errors.ts";

export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** The cost of new hashes: about 50 ms and 16 MiB of memory per hash. */
export const SCRYPT_PARAMS: ScryptParams = Object.freeze({ N: 16_384, r: 8, p: 1 });
export const SCRYPT_SALT_BYTES = 16;
export const SCRYPT_HASH_BYTES = 32;

// Limits on what a stored hash may ask for, so a damaged or hostile record cannot make a check
// allocate gigabytes or run for minutes. 128 * N * r bytes is scrypt's memory need; node's own
// default `maxmem` is 32 MiB, which these limits keep under.
const SCRYPT_N_MAX = 2 ** 17;
const SCRYPT_R_MAX = 16;
const SCRYPT_P_MAX = 16;
const SCRYPT_MEMORY_BYTES_MAX = 32 * 1024 * 1024;
const SCRYPT_SALT_BYTES_MAX = 1024;
const SCRYPT_HASH_BYTES_MIN = 16;
const SCRYPT_HASH_BYTES_MAX = 64;
const ENCODED_PREFIX = "scrypt";

assert(128 * SCRYPT_PARAMS.N * SCRYPT_PARAMS.r <= SCRYPT_MEMORY_BYTES_MAX, "defaults fit maxmem");
assert(SCRYPT_PARAMS.N <= SCRYPT_N_MAX, "default N within the accepted range");

/** A decoded "scrypt$..." string. */
export interface PasswordHashParts {
  readonly params: ScryptParams;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

/**
 * The raw scrypt primitive: `keyBytes` bytes derived from `password` and `salt`. A string
 * password is taken as UTF-8, so "pw" and Buffer.from("pw") give the same key.
 */
export function scryptDerive(
  password: string | Buffer,
  salt: Buffer,
  params: ScryptParams,
  keyBytes: number = SCRYPT_HASH_BYTES,
): Promise<Buffer> {
  assert(keyBytes > 0, "scrypt key length must be positive");
  const options = { N: params.N, r: params.r, p: params.p };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyBytes, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** A fresh salted hash of `password` with SCRYPT_PARAMS, encoded as one string. */
export async function hashPassword(password: string | Buffer): Promise<string> {
  const salt = randomBytes(SCRYPT_SALT_BYTES);
  const hash = await scryptDerive(password, salt, SCRYPT_PARAMS, SCRYPT_HASH_BYTES);
  const encoded = encodePasswordHash({ params: SCRYPT_PARAMS, salt, hash });
  assert(parsePasswordHash(encoded) !== null, "a fresh hash must parse back");
  return encoded;
}

/**
 * True when `password` matches `encoded`. A malformed or out-of-limits `encoded` gives false,
 * never an exception. The final comparison is constant-time.
 */
export async function verifyPassword(password: string | Buffer, encoded: string): Promise<boolean> {
  const parts = parsePasswordHash(encoded);
  if (parts === null) return false;
  const candidate = await scryptDerive(password, parts.salt, parts.params, parts.hash.length);
  assert(candidate.length === parts.hash.length, "scrypt returned the asked length");
  return timingSafeEqual(candidate, parts.hash);
}

export function encodePasswordHash(parts: PasswordHashParts): string {
  const { N, r, p } = parts.params;
  const salt = parts.salt.toString("base64");
  const hash = parts.hash.toString("base64");
  return `${ENCODED_PREFIX}$${N}$${r}$${p}$${salt}$${hash}`;
}

/** The parts of an encoded hash, or null when it is malformed or asks for too much work. */
export function parsePasswordHash(encoded: string): PasswordHashParts | null {
  const fields = encoded.split("$");
  if (fields.length !== 6 || fields[0] !== ENCODED_PREFIX) return null;
  const N = parseDecimal(fields[1]);
  const r = parseDecimal(fields[2]);
  const p = parseDecimal(fields[3]);
  if (N === null || r === null || p === null) return null;
  if (!scryptParamsAccepted({ N, r, p })) return null;
  const salt = decodeBase64Strict(fields[4]);
  const hash = decodeBase64Strict(fields[5]);
  if (salt === null || salt.length === 0 || salt.length > SCRYPT_SALT_BYTES_MAX) return null;
  if (hash === null || hash.length < SCRYPT_HASH_BYTES_MIN) return null;
  if (hash.length > SCRYPT_HASH_BYTES_MAX) return null;
  return { params: { N, r, p }, salt, hash };
}

/** Whether scrypt accepts these parameters within this module's time and memory limits. */
export function scryptParamsAccepted(params: ScryptParams): boolean {
  const { N, r, p } = params;
  // N must be a power of two greater than one (scrypt's own rule).
  if (N < 2 || N > SCRYPT_N_MAX || (N & (N - 1)) !== 0) return false;
  if (r < 1 || r > SCRYPT_R_MAX || p < 1 || p > SCRYPT_P_MAX) return false;
  return 128 * N * r <= SCRYPT_MEMORY_BYTES_MAX;
}

function parseDecimal(text: string): number | null {
  // Digits only, no leading zero, short enough to stay an exact integer.
  if (!/^[1-9][0-9]{0,8}$/.test(text)) return null;
  return Number(text);
}

/**
 * Buffer.from(…, "base64") skips junk silently; a stored hash (or a SCRAM credential or proof)
 * must round-trip exactly. Null when `text` is not canonical base64.
 */
export function decodeBase64Strict(text: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  const bytes = Buffer.from(text, "base64");
  return bytes.toString("base64") === text ? bytes : null;
}

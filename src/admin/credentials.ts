/**
 * The admin user's credentials. The password is either `admin.password` from the config, or,
 * when that is empty, one generated at the first start: printed once (warn level) and kept only
 * as a scrypt hash in `<data_dir>/admin/credentials.json`, which later starts reuse.
 *
 * Checks are constant-time: the user name is compared by digest, the password by its scrypt
 * hash with timingSafeEqual, and both are always computed so a wrong user name costs the same.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCode, RobustMQError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import {
  SCRYPT_HASH_BYTES as HASH_BYTES,
  SCRYPT_SALT_BYTES as SALT_BYTES,
  SCRYPT_PARAMS,
  type ScryptParams,
  scryptDerive,
} from "../security/passwords.ts";

const GENERATED_PASSWORD_BYTES = 18;
const FILE_FORMAT_VERSION = 1;

interface PasswordHash {
  readonly salt: Buffer;
  readonly hash: Buffer;
  readonly params: ScryptParams;
}

interface CredentialsFile {
  version: number;
  algorithm: "scrypt";
  N: number;
  r: number;
  p: number;
  salt: string;
  hash: string;
}

async function hashPassword(password: string): Promise<PasswordHash> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptDerive(password, salt, SCRYPT_PARAMS, HASH_BYTES);
  return { salt, hash, params: { ...SCRYPT_PARAMS } };
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

export class AdminCredentials {
  readonly username: string;
  readonly #usernameDigest: Buffer;
  readonly #password: PasswordHash;

  constructor(username: string, password: PasswordHash) {
    this.username = username;
    this.#usernameDigest = sha256(username);
    this.#password = password;
  }

  /** True when both match; takes the same time whichever of the two is wrong. */
  async verify(username: string, password: string): Promise<boolean> {
    const { salt, hash, params } = this.#password;
    const candidate = await scryptDerive(password, salt, params, HASH_BYTES);
    const userOk = timingSafeEqual(sha256(username), this.#usernameDigest);
    const passwordOk = candidate.length === hash.length && timingSafeEqual(candidate, hash);
    return userOk && passwordOk;
  }
}

export function credentialsPath(dataDir: string): string {
  return join(dataDir, "admin", "credentials.json");
}

/**
 * The credentials this node accepts. Throws RMQ_ERR_ADMIN_CREDENTIALS when the stored file
 * cannot be read, parsed or written.
 */
export async function loadAdminCredentials(
  admin: { username: string; password: string },
  dataDir: string,
  logger: Logger,
): Promise<AdminCredentials> {
  if (admin.password !== "") {
    return new AdminCredentials(admin.username, await hashPassword(admin.password));
  }
  const file = credentialsPath(dataDir);
  const stored = await readCredentialsFile(file);
  if (stored !== null) return new AdminCredentials(admin.username, stored);
  const password = randomBytes(GENERATED_PASSWORD_BYTES).toString("base64url");
  const hashed = await hashPassword(password);
  await writeCredentialsFile(file, hashed);
  // The one and only time this password is shown.
  logger.warn(
    { username: admin.username, password, file },
    "generated the admin password (shown once; set admin.password or delete the file to change it)",
  );
  return new AdminCredentials(admin.username, hashed);
}

async function readCredentialsFile(file: string): Promise<PasswordHash | null> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw credentialsError(file, `cannot read it: ${(err as Error).message}`);
  }
  let parsed: Partial<CredentialsFile>;
  try {
    parsed = JSON.parse(text) as Partial<CredentialsFile>;
  } catch {
    throw credentialsError(file, "it is not valid JSON");
  }
  const { N, r, p, salt, hash } = parsed;
  const numbersOk = [N, r, p].every((n) => Number.isInteger(n) && (n as number) > 0);
  if (parsed.algorithm !== "scrypt" || !numbersOk || typeof salt !== "string") {
    throw credentialsError(file, "it lacks the scrypt fields (algorithm, N, r, p, salt, hash)");
  }
  if (typeof hash !== "string" || Buffer.from(hash, "base64").length !== HASH_BYTES) {
    throw credentialsError(file, `its hash is not ${HASH_BYTES} base64 bytes`);
  }
  return {
    salt: Buffer.from(salt, "base64"),
    hash: Buffer.from(hash, "base64"),
    params: { N: N as number, r: r as number, p: p as number },
  };
}

async function writeCredentialsFile(file: string, hashed: PasswordHash): Promise<void> {
  const content: CredentialsFile = {
    version: FILE_FORMAT_VERSION,
    algorithm: "scrypt",
    ...hashed.params,
    salt: hashed.salt.toString("base64"),
    hash: hashed.hash.toString("base64"),
  };
  const temporary = `${file}.tmp`;
  try {
    await mkdir(join(file, ".."), { recursive: true, mode: 0o700 });
    await writeFile(temporary, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
    await rename(temporary, file);
  } catch (err) {
    throw credentialsError(file, `cannot write it: ${(err as Error).message}`);
  }
}

function credentialsError(file: string, what: string): RobustMQError {
  return new RobustMQError(
    ErrorCode.ADMIN_CREDENTIALS,
    `admin credentials file "${file}": ${what}`,
  );
}

/**
 * SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Apache Kafka speaks them in its SASL
 * handshake: the stored credential, its derivation from a password, and the server side of one
 * exchange.
 *
 * Kafka's variant: no channel binding (gs2 flag "n" or "y", never "p="); an authzid, when sent,
 * must equal the user name; extensions may follow the client nonce, and the one Kafka defines,
 * `tokenauth=true` (delegation tokens), is refused because this broker has no such tokens.
 *
 * The exchange is synchronous: after the credential lookup it is a few HMACs over messages of
 * a few hundred bytes. Only deriving a credential (thousands of PBKDF2 rounds) is async, in
 * libuv's thread pool.
 */
import { isUtf8 } from "node:buffer";
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import { assert } from "../errors.ts";
import { decodeBase64Strict } from "./passwords.ts";

export const SCRAM_MECHANISMS = ["SCRAM-SHA-256", "SCRAM-SHA-512"] as const;
export type ScramMechanism = (typeof SCRAM_MECHANISMS)[number];

/** Kafka refuses fewer iterations, and its tools use this many by default. */
export const SCRAM_ITERATIONS = 4096;
/** Past this, one login costs the broker seconds of CPU: a damaged or hostile record. */
export const SCRAM_ITERATIONS_MAX = 1_000_000;
export const SCRAM_SALT_BYTES = 32;
const SCRAM_SALT_BYTES_MAX = 1024;
/**
 * Room for the longest built-in user name (65,535 bytes) even if every byte were escaped to
 * three ("=2C"), plus the nonce and headers; anything longer is refused before parsing.
 */
export const SCRAM_MESSAGE_BYTES_MAX = 256 * 1024;
const SERVER_NONCE_BYTES = 32;

/** Kafka's wording for a wrong password, which an unknown user gets too. */
export const SCRAM_INVALID_CREDENTIALS = "Authentication failed: Invalid user credentials";

/** What the broker keeps per user and mechanism; every field but `iterations` is base64. */
export interface ScramCredential {
  readonly salt: string;
  readonly iterations: number;
  readonly storedKey: string;
  readonly serverKey: string;
}

export interface ScramFailure {
  readonly ok: false;
  readonly reason: string;
}
export type ScramFirstResult = { readonly ok: true; readonly serverFirst: Buffer } | ScramFailure;
export type ScramFinalResult =
  | { readonly ok: true; readonly serverFinal: Buffer; readonly username: string }
  | ScramFailure;

export type ScramLookup = (username: string) => ScramCredential | undefined;

export interface ScramExchangeOptions {
  /** The server's part of the nonce; random unless a test fixes it. */
  readonly nonce?: string;
  /** Keys the mock salts of unknown users; a process-wide random secret by default. */
  readonly mockSecret?: Buffer;
}

interface Digest {
  readonly algorithm: "sha256" | "sha512";
  readonly bytes: number;
}

const DIGESTS: Readonly<Record<ScramMechanism, Digest>> = {
  "SCRAM-SHA-256": { algorithm: "sha256", bytes: 32 },
  "SCRAM-SHA-512": { algorithm: "sha512", bytes: 64 },
};

// One secret for the life of the process, so an unknown name gets the same salt on every try,
// as a real user does; a real salt also survives a restart, which this one does not.
const PROCESS_MOCK_SECRET = randomBytes(32);
// RFC 5802 "printable": ASCII 0x21..0x7E except ",".
const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/;
const EXTENSION_KEY = /^[A-Za-z]+$/;
// Attribute names RFC 5802 gives a meaning; one of them in the extension position is a
// malformed or smuggled message, not an extension.
const RESERVED_ATTRIBUTES = new Set(["a", "c", "e", "i", "m", "n", "p", "r", "s", "v"]);

export function isScramMechanism(value: string): value is ScramMechanism {
  return (SCRAM_MECHANISMS as readonly string[]).includes(value);
}

/**
 * The credential for `password`: SaltedPassword = PBKDF2-HMAC-H(password, salt, iterations),
 * StoredKey = H(HMAC(SaltedPassword, "Client Key")), ServerKey = HMAC(SaltedPassword,
 * "Server Key"). The password is taken as plain UTF-8 with no SASLprep: Kafka (client and
 * tools) does not normalise either, and both sides must hash the same bytes.
 */
export async function deriveScramCredential(
  mechanism: ScramMechanism,
  password: string,
  options: { readonly iterations?: number; readonly salt?: Buffer } = {},
): Promise<ScramCredential> {
  const iterations = options.iterations ?? SCRAM_ITERATIONS;
  assert(iterationsAccepted(iterations), "SCRAM iterations out of range");
  const salt = options.salt ?? randomBytes(SCRAM_SALT_BYTES);
  assert(salt.length > 0 && salt.length <= SCRAM_SALT_BYTES_MAX, "SCRAM salt length");
  const { algorithm, bytes } = DIGESTS[mechanism];
  const salted = await new Promise<Buffer>((resolve, reject) => {
    pbkdf2(Buffer.from(password, "utf8"), salt, iterations, bytes, algorithm, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
  const credential: ScramCredential = {
    salt: salt.toString("base64"),
    iterations,
    storedKey: hash(algorithm, hmac(algorithm, salted, "Client Key")).toString("base64"),
    serverKey: hmac(algorithm, salted, "Server Key").toString("base64"),
  };
  assert(isScramCredential(credential, mechanism), "a fresh SCRAM credential is well-formed");
  return credential;
}

/**
 * Whether `value` is a usable credential: the four fields, canonical base64, iterations within
 * bounds, and keys of one digest's length (`mechanism`'s when given).
 */
export function isScramCredential(
  value: unknown,
  mechanism?: ScramMechanism,
): value is ScramCredential {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  if (typeof v.iterations !== "number" || !iterationsAccepted(v.iterations)) return false;
  if (typeof v.salt !== "string" || typeof v.storedKey !== "string") return false;
  if (typeof v.serverKey !== "string") return false;
  const salt = decodeBase64Strict(v.salt);
  if (salt === null || salt.length === 0 || salt.length > SCRAM_SALT_BYTES_MAX) return false;
  const storedKey = decodeBase64Strict(v.storedKey);
  const serverKey = decodeBase64Strict(v.serverKey);
  if (storedKey === null || serverKey === null) return false;
  if (storedKey.length !== serverKey.length) return false;
  const lengths =
    mechanism === undefined
      ? SCRAM_MECHANISMS.map((m) => DIGESTS[m].bytes)
      : [DIGESTS[mechanism].bytes];
  return lengths.includes(storedKey.length);
}

/** What the client's first message established, needed to check its final message. */
interface FirstState {
  readonly gs2Header: string;
  readonly nonce: string;
  readonly username: string;
  /** client-first-message-bare "," server-first-message */
  readonly authMessagePrefix: string;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
  /** False for a mock credential, which must never succeed whatever the proof. */
  readonly known: boolean;
}

/**
 * The server side of one exchange: clientFirst, then clientFinal, each once. Any failure ends
 * it. Nothing here throws on what the client sends: a bad message is a failure result.
 */
export class ScramServerExchange {
  readonly mechanism: ScramMechanism;
  readonly #digest: Digest;
  readonly #lookup: ScramLookup;
  readonly #serverNonce: string;
  readonly #mockSecret: Buffer;
  #phase: "first" | "final" | "over" = "first";
  #first: FirstState | null = null;

  constructor(mechanism: ScramMechanism, lookup: ScramLookup, options: ScramExchangeOptions = {}) {
    this.mechanism = mechanism;
    this.#digest = DIGESTS[mechanism];
    this.#lookup = lookup;
    this.#serverNonce = options.nonce ?? randomBytes(SERVER_NONCE_BYTES).toString("base64");
    assert(PRINTABLE.test(this.#serverNonce), "the server nonce must be printable, no comma");
    this.#mockSecret = options.mockSecret ?? PROCESS_MOCK_SECRET;
  }

  /** True once the exchange has succeeded or failed. */
  get finished(): boolean {
    return this.#phase === "over";
  }

  clientFirst(message: Buffer): ScramFirstResult {
    if (this.#phase !== "first") return this.#fail("client-first message out of order");
    const text = messageText(message);
    if (typeof text !== "string") return this.#fail(text.reason);
    const parsed = parseClientFirst(text);
    if ("reason" in parsed) return this.#fail(parsed.reason);
    const found = this.#lookup(parsed.username);
    // An unknown user goes on with a mock credential, so the reply does not tell an attacker
    // which names exist: it fails at the proof, with a wrong password's reason.
    const known = found !== undefined && isScramCredential(found, this.mechanism);
    const keys = known ? decodeCredential(found) : this.#mockCredential(parsed.username);
    const nonce = parsed.clientNonce + this.#serverNonce;
    const serverFirst = `r=${nonce},s=${keys.salt.toString("base64")},i=${keys.iterations}`;
    this.#first = {
      gs2Header: parsed.gs2Header,
      nonce,
      username: parsed.username,
      authMessagePrefix: `${parsed.bare},${serverFirst}`,
      storedKey: keys.storedKey,
      serverKey: keys.serverKey,
      known,
    };
    this.#phase = "final";
    return { ok: true, serverFirst: Buffer.from(serverFirst, "utf8") };
  }

  clientFinal(message: Buffer): ScramFinalResult {
    const first = this.#first;
    if (this.#phase !== "final" || first === null) {
      return this.#fail("client-final message out of order");
    }
    const text = messageText(message);
    if (typeof text !== "string") return this.#fail(text.reason);
    const parsed = parseClientFinal(text);
    if ("reason" in parsed) return this.#fail(parsed.reason);
    if (parsed.channelBinding !== Buffer.from(first.gs2Header, "utf8").toString("base64")) {
      return this.#fail("the channel binding (c=) does not match the gs2 header");
    }
    // Kafka checks only that the nonce ends with the one it sent: librdkafka (kcat and the
    // clients built on it) sends its own nonce again in front of it.
    if (!parsed.nonce.endsWith(first.nonce)) return this.#fail("the nonce (r=) does not match");
    const proof = decodeBase64Strict(parsed.proof);
    if (proof === null || proof.length !== this.#digest.bytes) {
      return this.#fail(`the proof (p=) is not ${this.#digest.bytes} bytes of base64`);
    }
    const { algorithm } = this.#digest;
    const authMessage = `${first.authMessagePrefix},${parsed.withoutProof}`;
    const clientSignature = hmac(algorithm, first.storedKey, authMessage);
    const clientKey = xor(proof, clientSignature);
    const matches = timingSafeEqual(hash(algorithm, clientKey), first.storedKey);
    if (!matches || !first.known) return this.#fail(SCRAM_INVALID_CREDENTIALS);
    const serverSignature = hmac(algorithm, first.serverKey, authMessage);
    this.#phase = "over";
    const serverFinal = Buffer.from(`v=${serverSignature.toString("base64")}`, "utf8");
    return { ok: true, serverFinal, username: first.username };
  }

  #fail(reason: string): ScramFailure {
    this.#phase = "over";
    this.#first = null;
    return { ok: false, reason };
  }

  /**
   * A credential no password matches, with a salt that is stable per name (as a real user's
   * is) and unpredictable without the secret. Keyed by mechanism too: a real user's two salts
   * differ.
   */
  #mockCredential(username: string): DecodedCredential {
    const salt = createHmac("sha256", this.#mockSecret)
      .update(`${this.mechanism}\0${username}`, "utf8")
      .digest()
      .subarray(0, SCRAM_SALT_BYTES);
    const bytes = this.#digest.bytes;
    return {
      salt,
      iterations: SCRAM_ITERATIONS,
      storedKey: randomBytes(bytes),
      serverKey: randomBytes(bytes),
    };
  }
}

interface DecodedCredential {
  readonly salt: Buffer;
  readonly iterations: number;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

function decodeCredential(credential: ScramCredential): DecodedCredential {
  const salt = decodeBase64Strict(credential.salt);
  const storedKey = decodeBase64Strict(credential.storedKey);
  const serverKey = decodeBase64Strict(credential.serverKey);
  assert(salt !== null && storedKey !== null && serverKey !== null, "checked credential");
  return { salt, iterations: credential.iterations, storedKey, serverKey };
}

interface ClientFirst {
  /** "n,," or "y,," with the authzid if any, exactly as received. */
  readonly gs2Header: string;
  /** client-first-message-bare, exactly as received. */
  readonly bare: string;
  readonly username: string;
  readonly clientNonce: string;
}

interface ClientFinal {
  readonly channelBinding: string;
  readonly nonce: string;
  readonly proof: string;
  /** client-final-message-without-proof, exactly as received. */
  readonly withoutProof: string;
}

/** gs2-header client-first-message-bare; see RFC 5802 section 7. */
function parseClientFirst(text: string): ClientFirst | ScramFailure {
  const flagEnd = text.indexOf(",");
  const headerEnd = flagEnd < 0 ? -1 : text.indexOf(",", flagEnd + 1);
  if (headerEnd < 0) return failure("the client-first message has no gs2 header");
  const flag = text.slice(0, flagEnd);
  if (flag.startsWith("p=")) return failure("channel binding is not supported");
  if (flag !== "n" && flag !== "y") return failure("the gs2 header's flag is not n, y or p=");
  const authzField = text.slice(flagEnd + 1, headerEnd);
  let authzid: string | null = null;
  if (authzField !== "") {
    authzid = authzField.startsWith("a=") ? decodeSaslName(authzField.slice(2)) : null;
    if (authzid === null) return failure("the gs2 header's authorization id is malformed");
  }
  const bare = text.slice(headerEnd + 1);
  const fields = bare.split(",");
  if (fields[0].startsWith("m=")) return failure("mandatory extensions (m=) are not supported");
  if (fields.length < 2 || !fields[0].startsWith("n=") || !fields[1].startsWith("r=")) {
    return failure("the client-first message must start with n= then r=");
  }
  const username = decodeSaslName(fields[0].slice(2));
  if (username === null) return failure("the user name (n=) is empty or badly escaped");
  const clientNonce = fields[1].slice(2);
  if (!PRINTABLE.test(clientNonce))
    return failure("the client nonce (r=) is empty or not printable");
  const extensions = parseExtensions(fields.slice(2));
  if ("reason" in extensions) return extensions;
  if (extensions.get("tokenauth")?.toLowerCase() === "true") {
    return failure("delegation tokens (tokenauth) are not supported");
  }
  // Kafka's rule: the authzid, if any, is the user itself; nobody acts for someone else.
  if (authzid !== null && authzid !== username) {
    return failure(
      "Authentication failed: Client requested an authorization id that is different from username",
    );
  }
  return { gs2Header: text.slice(0, headerEnd + 1), bare, username, clientNonce };
}

/** "c=...,r=...[,extensions],p=..."; the proof must come last (RFC 5802 section 7). */
function parseClientFinal(text: string): ClientFinal | ScramFailure {
  const proofAt = text.lastIndexOf(",p=");
  if (proofAt < 0) return failure("the client-final message has no proof (p=)");
  const withoutProof = text.slice(0, proofAt);
  const proof = text.slice(proofAt + 3);
  const fields = withoutProof.split(",");
  if (fields.length < 2 || !fields[0].startsWith("c=") || !fields[1].startsWith("r=")) {
    return failure("the client-final message must start with c= then r=");
  }
  const extensions = parseExtensions(fields.slice(2));
  if ("reason" in extensions) return extensions;
  return { channelBinding: fields[0].slice(2), nonce: fields[1].slice(2), proof, withoutProof };
}

function parseExtensions(fields: readonly string[]): Map<string, string> | ScramFailure {
  const extensions = new Map<string, string>();
  for (const field of fields) {
    const eq = field.indexOf("=");
    const key = eq < 0 ? "" : field.slice(0, eq);
    if (!EXTENSION_KEY.test(key) || RESERVED_ATTRIBUTES.has(key) || eq === field.length - 1) {
      return failure("an attribute after the nonce is not an extension (name=value)");
    }
    extensions.set(key, field.slice(eq + 1));
  }
  return extensions;
}

/** RFC 5802 saslname: "," travels as "=2C" and "=" as "=3D"; any other "=" is an error. */
function decodeSaslName(raw: string): string | null {
  if (raw === "" || /=(?!2C|3D)/.test(raw)) return null;
  return raw.replace(/=2C|=3D/g, (sequence) => (sequence === "=2C" ? "," : "="));
}

/** The message as text, or why it cannot be one: too long, not UTF-8, or holding a NUL. */
function messageText(message: Buffer): string | ScramFailure {
  if (message.length > SCRAM_MESSAGE_BYTES_MAX) {
    return failure(`the SCRAM message is longer than ${SCRAM_MESSAGE_BYTES_MAX} bytes`);
  }
  if (!isUtf8(message)) return failure("the SCRAM message is not UTF-8");
  if (message.includes(0)) return failure("the SCRAM message holds a NUL byte");
  return message.toString("utf8");
}

function failure(reason: string): ScramFailure {
  return { ok: false, reason };
}

function iterationsAccepted(iterations: number): boolean {
  return (
    Number.isInteger(iterations) &&
    iterations >= SCRAM_ITERATIONS &&
    iterations <= SCRAM_ITERATIONS_MAX
  );
}

function hmac(algorithm: Digest["algorithm"], key: Buffer, data: string): Buffer {
  return createHmac(algorithm, key).update(data, "utf8").digest();
}

function hash(algorithm: Digest["algorithm"], data: Buffer): Buffer {
  return createHash(algorithm).update(data).digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  assert(a.length === b.length, "xor of equal lengths");
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i += 1) out[i] = a[i] ^ b[i];
  return out;
}

/**
 * JWT authentication: the client sends a signed token in the password (or user name) field;
 * it is verified with jose against keys read once at start: an HMAC secret, a PEM public key
 * file (RSA or EC), and/or a local JSON Web Key Set file.
 *
 * Each key source accepts only the algorithms that fit it, named explicitly, so "alg": "none"
 * and key confusion (an HS256 token "signed" with the RSA public key as secret) are refused.
 * A credential that is not shaped like a JWT is ignored, leaving it to the next authenticator.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from "jose";
import type { Config } from "../../config/schema.ts";
import { assert, ErrorCode, RobustMQError } from "../../errors.ts";
import type { Authenticator, AuthnResult, Credentials } from "../types.ts";

export type JwtOptions = Config["mqtt_auth_jwt"];

export const HMAC_ALGORITHMS = ["HS256", "HS384", "HS512"] as const;
const RSA_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] as const;
const RSA_PSS_ALGORITHMS = ["PS256", "PS384", "PS512"] as const;
const EC_ALGORITHM_BY_CURVE: Readonly<Record<string, string>> = {
  prime256v1: "ES256",
  secp384r1: "ES384",
  secp521r1: "ES512",
};
const EDDSA_ALGORITHMS = ["EdDSA", "Ed25519"] as const;
/** Every asymmetric algorithm a JWKS may use; jose matches each key to its own kind. */
export const ASYMMETRIC_ALGORITHMS: readonly string[] = [
  ...RSA_ALGORITHMS,
  "ES256",
  "ES384",
  "ES512",
  ...EDDSA_ALGORITHMS,
];
/** Key files are read whole at start; a real key or key set is far smaller. */
const KEY_FILE_BYTES_MAX = 1024 * 1024;
/** A JWT is three base64url parts; the signature part is empty only for "alg": "none". */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** One configured key source and the algorithms it may verify. */
interface KeySource {
  readonly key: Uint8Array | KeyObject | JWTVerifyGetKey;
  readonly algorithms: readonly string[];
}

export class JwtAuthenticator implements Authenticator {
  readonly name = "jwt" as const;
  readonly #options: JwtOptions;
  readonly #sources: readonly KeySource[];

  private constructor(options: JwtOptions, sources: readonly KeySource[]) {
    assert(sources.length > 0, "a JWT authenticator needs a key");
    this.#options = options;
    this.#sources = sources;
  }

  /**
   * Reads the configured keys. Throws RMQ_ERR_CONFIG_INVALID naming the `mqtt_auth_jwt` key
   * (and the file) when no key is configured, a file cannot be read, or it holds no usable key.
   */
  static async create(options: JwtOptions): Promise<JwtAuthenticator> {
    if (options.verify_username && options.from === "username") {
      throw configError(
        'verify_username = true needs from = "password": the user name field holds the token',
      );
    }
    const sources: KeySource[] = [];
    if (options.secret !== "") sources.push(secretSource(options));
    if (options.public_key_file !== "") sources.push(publicKeySource(options.public_key_file));
    if (options.jwks_file !== "") sources.push(jwksSource(options.jwks_file));
    if (sources.length === 0) {
      throw configError("no key is configured: set secret, public_key_file or jwks_file");
    }
    return new JwtAuthenticator(options, sources);
  }

  async authenticate(credentials: Credentials): Promise<AuthnResult> {
    const token = tokenOf(credentials, this.#options.from);
    if (token === undefined || !JWT_SHAPE.test(token)) {
      return { result: "ignore", reason: "not a JWT" };
    }
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      return { result: "ignore", reason: "not a JWT" };
    }
    if (typeof alg !== "string") return { result: "deny", reason: "token has no algorithm" };
    if (alg === "none") return { result: "deny", reason: 'unsigned token ("alg": "none")' };
    const sources = this.#sources.filter((source) => source.algorithms.includes(alg));
    if (sources.length === 0) return { result: "deny", reason: `algorithm ${alg} not allowed` };

    let firstFailure: string | undefined;
    for (const source of sources) {
      const verified = await this.#verify(token, source);
      if (typeof verified === "string") {
        firstFailure ??= verified;
        continue;
      }
      return this.#checkClaims(verified, credentials);
    }
    assert(firstFailure !== undefined, "every tried source failed with a reason");
    return { result: "deny", reason: firstFailure };
  }

  /** The payload, or why the token fails against this source. */
  async #verify(token: string, source: KeySource): Promise<JWTPayload | string> {
    const options = {
      algorithms: [...source.algorithms],
      clockTolerance: this.#options.clock_tolerance_s,
    };
    try {
      // jwtVerify is overloaded on the key kind; the branch picks the matching overload.
      const { payload } =
        typeof source.key === "function"
          ? await jwtVerify(token, source.key, options)
          : await jwtVerify(token, source.key, options);
      return payload;
    } catch (err) {
      return failureReason(err);
    }
  }

  #checkClaims(payload: JWTPayload, credentials: Credentials): AuthnResult {
    const options = this.#options;
    if (options.verify_client_id) {
      const claim = payload[options.client_id_claim];
      if (claim === undefined) {
        return { result: "deny", reason: `token has no ${options.client_id_claim} claim` };
      }
      if (claim !== credentials.clientId) {
        return { result: "deny", reason: `token ${options.client_id_claim} is not the client id` };
      }
    }
    if (options.verify_username) {
      const claim = payload[options.username_claim];
      if (claim === undefined) {
        return { result: "deny", reason: `token has no ${options.username_claim} claim` };
      }
      if (claim !== credentials.username) {
        return { result: "deny", reason: `token ${options.username_claim} is not the user name` };
      }
    }
    return { result: "allow", superuser: payload[options.superuser_claim] === true };
  }
}

function tokenOf(credentials: Credentials, from: JwtOptions["from"]): string | undefined {
  if (from === "username") return credentials.username;
  return credentials.password?.toString("utf8");
}

/** A short, stable deny reason for jose's errors. */
function failureReason(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "token expired";
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === "nbf") return "token not yet valid (nbf)";
    if (err.claim === "iat") return "token issued in the future (iat)";
    return `token claim ${err.claim} invalid: ${err.reason}`;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return "bad signature";
  if (err instanceof errors.JOSEAlgNotAllowed) return "algorithm not allowed";
  if (err instanceof errors.JWKSNoMatchingKey) return "no key in the key set matches the token";
  if (err instanceof errors.JWKSMultipleMatchingKeys) return "several keys match the token";
  if (err instanceof errors.JWTInvalid || err instanceof errors.JWSInvalid) {
    return `malformed token: ${err.message}`;
  }
  if (err instanceof errors.JOSEError) return `token rejected: ${err.message}`;
  // jose throws TypeError for a key that does not fit the algorithm, among others.
  return `token rejected: ${err instanceof Error ? err.message : String(err)}`;
}

function secretSource(options: JwtOptions): KeySource {
  let secret: Buffer;
  if (options.secret_base64) {
    const text = options.secret.replace(/=+$/, "");
    if (!/^[A-Za-z0-9+/_-]+$/.test(text)) {
      throw configError("secret is not base64 (secret_base64 = true)");
    }
    // Node's base64 decoder takes both alphabets, standard and URL-safe.
    secret = Buffer.from(text, "base64");
    if (secret.length === 0) throw configError("secret decodes to no bytes (secret_base64 = true)");
  } else {
    secret = Buffer.from(options.secret, "utf8");
  }
  assert(secret.length > 0, "a non-empty secret gives key bytes");
  return { key: new Uint8Array(secret), algorithms: HMAC_ALGORITHMS };
}

function publicKeySource(file: string): KeySource {
  const pem = readKeyFile("public_key_file", file);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: "pem" });
  } catch (err) {
    throw fileError("public_key_file", file, `not a PEM public key (${messageOf(err)})`);
  }
  const algorithms = algorithmsForKey(key);
  if (algorithms.length === 0) {
    const kind = key.asymmetricKeyType ?? "unknown";
    throw fileError("public_key_file", file, `a ${kind} key, not an RSA, EC or Ed25519 key`);
  }
  return { key, algorithms };
}

/** The JWS algorithms a public key can verify: RS and PS for RSA, the curve's ES for EC. */
export function algorithmsForKey(key: KeyObject): readonly string[] {
  switch (key.asymmetricKeyType) {
    case "rsa":
      return RSA_ALGORITHMS;
    case "rsa-pss":
      return RSA_PSS_ALGORITHMS;
    case "ec": {
      const curve = key.asymmetricKeyDetails?.namedCurve ?? "";
      const algorithm = EC_ALGORITHM_BY_CURVE[curve];
      return algorithm === undefined ? [] : [algorithm];
    }
    case "ed25519":
      return EDDSA_ALGORITHMS;
    default:
      return [];
  }
}

function jwksSource(file: string): KeySource {
  const text = readKeyFile("jwks_file", file).toString("utf8");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw fileError("jwks_file", file, "not valid JSON");
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw fileError("jwks_file", file, 'not a JSON Web Key Set (no "keys" array, or it is empty)');
  }
  let getKey: JWTVerifyGetKey;
  try {
    getKey = createLocalJWKSet(parsed as JSONWebKeySet);
  } catch (err) {
    throw fileError("jwks_file", file, messageOf(err));
  }
  return { key: getKey, algorithms: ASYMMETRIC_ALGORITHMS };
}

function readKeyFile(key: "public_key_file" | "jwks_file", file: string): Buffer {
  let content: Buffer;
  try {
    content = readFileSync(file);
  } catch (err) {
    throw fileError(key, file, messageOf(err));
  }
  if (content.length > KEY_FILE_BYTES_MAX) {
    throw fileError(key, file, `larger than ${KEY_FILE_BYTES_MAX} bytes`);
  }
  return content;
}

function configError(what: string): RobustMQError {
  return new RobustMQError(ErrorCode.CONFIG_INVALID, `[mqtt_auth_jwt] ${what}`);
}

function fileError(key: string, file: string, why: string): RobustMQError {
  return new RobustMQError(ErrorCode.CONFIG_INVALID, `mqtt_auth_jwt.${key} = "${file}": ${why}`);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

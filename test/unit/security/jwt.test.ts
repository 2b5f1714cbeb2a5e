/**
 * JWT authentication with keys made by jose in the test: an HMAC secret, RSA and EC public
 * keys as PEM files, and a JSON Web Key Set file. Covers valid tokens, time claims, forged and
 * unsigned tokens, algorithm confusion, client id / user name binding, and config errors.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  type CryptoKey,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type JWTPayload,
  SignJWT,
} from "jose";
import { type ConfigInput, MqttAuthJwtSchema } from "../../../src/config/schema.ts";
import { RobustMQError } from "../../../src/errors.ts";
import { JwtAuthenticator } from "../../../src/security/authn/jwt.ts";
import type { Credentials } from "../../../src/security/types.ts";

const dir = mkdtempSync(join(tmpdir(), "rmq-jwt-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const SECRET = "a-shared-secret-of-at-least-32-bytes!";
const hmacKey = new TextEncoder().encode(SECRET);

interface Pair {
  publicKey: CryptoKey;
  privateKey: CryptoKey;
  pemFile: string;
}
let rsa: Pair;
let ec: Pair;
let stranger: Pair;
let jwksFile: string;

before(async () => {
  const pair = async (alg: string, name: string): Promise<Pair> => {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    const pemFile = join(dir, `${name}.pem`);
    writeFileSync(pemFile, await exportSPKI(publicKey));
    return { publicKey, privateKey, pemFile };
  };
  [rsa, ec, stranger] = await Promise.all([
    pair("RS256", "rsa"),
    pair("ES256", "ec"),
    pair("ES256", "stranger"),
  ]);
  const keys = [
    { ...(await exportJWK(rsa.publicKey)), kid: "rsa-1", alg: "RS256", use: "sig" },
    { ...(await exportJWK(ec.publicKey)), kid: "ec-1", alg: "ES256", use: "sig" },
  ];
  jwksFile = join(dir, "jwks.json");
  writeFileSync(jwksFile, JSON.stringify({ keys }));
});

function options(input: NonNullable<ConfigInput["mqtt_auth_jwt"]>) {
  return MqttAuthJwtSchema.parse(input);
}

function creds(password: string | undefined, extra: Partial<Credentials> = {}): Credentials {
  return {
    clientId: "client-1",
    username: "alice",
    password: password === undefined ? undefined : Buffer.from(password),
    ip: "10.0.0.1",
    certificateUsername: undefined,
    ...extra,
  };
}

interface SignOptions {
  alg?: string;
  kid?: string;
  expiresIn?: string | number;
  notBefore?: string | number;
}

async function sign(
  payload: JWTPayload,
  key: CryptoKey | Uint8Array,
  opts: SignOptions = {},
): Promise<string> {
  const jwt = new SignJWT(payload)
    .setProtectedHeader({ alg: opts.alg ?? "HS256", ...(opts.kid ? { kid: opts.kid } : {}) })
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? "1h");
  if (opts.notBefore !== undefined) jwt.setNotBefore(opts.notBefore);
  return jwt.sign(key);
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

const nowS = () => Math.floor(Date.now() / 1000);

describe("JwtAuthenticator with an HMAC secret", () => {
  test("a valid token is allowed; superuser only for a claim that is exactly true", async () => {
    const jwt = await JwtAuthenticator.create(options({ secret: SECRET }));
    assert.equal(jwt.name, "jwt");
    const plain = await sign({ sub: "alice" }, hmacKey);
    assert.deepEqual(await jwt.authenticate(creds(plain)), { result: "allow", superuser: false });
    const root = await sign({ is_superuser: true }, hmacKey, { alg: "HS512" });
    assert.deepEqual(await jwt.authenticate(creds(root)), { result: "allow", superuser: true });
    const fake = await sign({ is_superuser: "true" }, hmacKey);
    assert.deepEqual(await jwt.authenticate(creds(fake)), { result: "allow", superuser: false });
  });

  test("a base64 secret is decoded first", async () => {
    const raw = Buffer.from([1, 2, 3, 250, 251, 252, 253, 254, 255, 0, 9]);
    const jwt = await JwtAuthenticator.create(
      options({ secret: raw.toString("base64"), secret_base64: true }),
    );
    const token = await sign({}, new Uint8Array(raw));
    assert.equal((await jwt.authenticate(creds(token))).result, "allow");
    const asText = await sign({}, new TextEncoder().encode(raw.toString("base64")));
    assert.deepEqual(await jwt.authenticate(creds(asText)), {
      result: "deny",
      reason: "bad signature",
    });
  });

  test("expired and not-yet-valid tokens are denied, unless within the tolerance", async () => {
    const strict = await JwtAuthenticator.create(options({ secret: SECRET }));
    const lenient = await JwtAuthenticator.create(
      options({ secret: SECRET, clock_tolerance_s: 120 }),
    );
    const expired = await sign({}, hmacKey, { expiresIn: nowS() - 60 });
    assert.deepEqual(await strict.authenticate(creds(expired)), {
      result: "deny",
      reason: "token expired",
    });
    assert.equal((await lenient.authenticate(creds(expired))).result, "allow");
    const early = await sign({}, hmacKey, { notBefore: nowS() + 60 });
    assert.deepEqual(await strict.authenticate(creds(early)), {
      result: "deny",
      reason: "token not yet valid (nbf)",
    });
    assert.equal((await lenient.authenticate(creds(early))).result, "allow");
  });

  test("forged, tampered and unsigned tokens are denied", async () => {
    const jwt = await JwtAuthenticator.create(options({ secret: SECRET }));
    const forged = await sign({}, new TextEncoder().encode("another secret entirely"));
    assert.deepEqual(await jwt.authenticate(creds(forged)), {
      result: "deny",
      reason: "bad signature",
    });
    const [header, , signature] = (await sign({}, hmacKey)).split(".");
    const raised = base64url({ is_superuser: true, exp: nowS() + 60 });
    const tampered = `${header}.${raised}.${signature}`;
    assert.deepEqual(await jwt.authenticate(creds(tampered)), {
      result: "deny",
      reason: "bad signature",
    });
    const payload = base64url({ is_superuser: true, exp: nowS() + 60 });
    for (const none of [
      `${base64url({ alg: "none" })}.${payload}.`,
      `${base64url({ alg: "none", typ: "JWT" })}.${payload}.${signature}`,
    ]) {
      assert.deepEqual(await jwt.authenticate(creds(none)), {
        result: "deny",
        reason: 'unsigned token ("alg": "none")',
      });
    }
  });

  test("credentials that are not JWTs are ignored", async () => {
    const jwt = await JwtAuthenticator.create(options({ secret: SECRET }));
    for (const password of [undefined, "", "hunter2", "a.b.c", "a.b", "x.y.z.w", "ab cd.ef.gh"]) {
      assert.equal((await jwt.authenticate(creds(password))).result, "ignore", String(password));
    }
  });

  test('with from = "username" the token is the user name', async () => {
    const jwt = await JwtAuthenticator.create(options({ secret: SECRET, from: "username" }));
    const token = await sign({}, hmacKey);
    assert.equal((await jwt.authenticate(creds(token))).result, "ignore");
    const viaName = creds("whatever", { username: token });
    assert.equal((await jwt.authenticate(viaName)).result, "allow");
  });
});

describe("JwtAuthenticator with public keys", () => {
  test("a PEM RSA key verifies RS256 and refuses HMAC tokens (no key confusion)", async () => {
    const jwt = await JwtAuthenticator.create(options({ public_key_file: rsa.pemFile }));
    const token = await sign({ is_superuser: true }, rsa.privateKey, { alg: "RS256" });
    assert.deepEqual(await jwt.authenticate(creds(token)), { result: "allow", superuser: true });
    // An attacker "signs" with the public key's PEM text as an HMAC secret.
    const pem = new TextEncoder().encode(await exportSPKI(rsa.publicKey));
    const confused = await sign({}, pem, { alg: "HS256" });
    assert.deepEqual(await jwt.authenticate(creds(confused)), {
      result: "deny",
      reason: "algorithm HS256 not allowed",
    });
    const ecToken = await sign({}, ec.privateKey, { alg: "ES256" });
    assert.equal((await jwt.authenticate(creds(ecToken))).result, "deny");
  });

  test("a PEM EC key verifies ES256, and a token from another key is a bad signature", async () => {
    const jwt = await JwtAuthenticator.create(options({ public_key_file: ec.pemFile }));
    assert.equal(
      (await jwt.authenticate(creds(await sign({}, ec.privateKey, { alg: "ES256" })))).result,
      "allow",
    );
    const other = await sign({}, stranger.privateKey, { alg: "ES256" });
    assert.deepEqual(await jwt.authenticate(creds(other)), {
      result: "deny",
      reason: "bad signature",
    });
  });

  test("a JWKS file verifies tokens from each of its keys, by kid", async () => {
    const jwt = await JwtAuthenticator.create(options({ jwks_file: jwksFile }));
    const fromRsa = await sign({}, rsa.privateKey, { alg: "RS256", kid: "rsa-1" });
    const fromEc = await sign({}, ec.privateKey, { alg: "ES256", kid: "ec-1" });
    assert.equal((await jwt.authenticate(creds(fromRsa))).result, "allow");
    assert.equal((await jwt.authenticate(creds(fromEc))).result, "allow");
    const unknown = await sign({}, stranger.privateKey, { alg: "ES256", kid: "nope" });
    assert.equal((await jwt.authenticate(creds(unknown))).result, "deny");
    const hmac = await sign({}, hmacKey);
    assert.deepEqual(await jwt.authenticate(creds(hmac)), {
      result: "deny",
      reason: "algorithm HS256 not allowed",
    });
  });

  test("several key sources: each algorithm goes to the sources that fit it", async () => {
    const jwt = await JwtAuthenticator.create(
      options({ secret: SECRET, public_key_file: ec.pemFile, jwks_file: jwksFile }),
    );
    assert.equal((await jwt.authenticate(creds(await sign({}, hmacKey)))).result, "allow");
    const viaJwks = await sign({}, rsa.privateKey, { alg: "RS256", kid: "rsa-1" });
    assert.equal((await jwt.authenticate(creds(viaJwks))).result, "allow");
    const ecToken = await sign({}, ec.privateKey, { alg: "ES256", kid: "ec-1" });
    assert.equal((await jwt.authenticate(creds(ecToken))).result, "allow");
  });
});

describe("JwtAuthenticator claim binding", () => {
  test("verify_client_id: the claim must be present and equal the client id", async () => {
    const jwt = await JwtAuthenticator.create(
      options({ secret: SECRET, verify_client_id: true, client_id_claim: "cid" }),
    );
    const ok = await sign({ cid: "client-1" }, hmacKey);
    assert.equal((await jwt.authenticate(creds(ok))).result, "allow");
    const other = await sign({ cid: "client-2" }, hmacKey);
    assert.deepEqual(await jwt.authenticate(creds(other)), {
      result: "deny",
      reason: "token cid is not the client id",
    });
    const missing = await sign({ clientid: "client-1" }, hmacKey);
    assert.deepEqual(await jwt.authenticate(creds(missing)), {
      result: "deny",
      reason: "token has no cid claim",
    });
  });

  test("verify_username: the claim must equal the user name", async () => {
    const jwt = await JwtAuthenticator.create(options({ secret: SECRET, verify_username: true }));
    const ok = await sign({ username: "alice" }, hmacKey);
    assert.equal((await jwt.authenticate(creds(ok))).result, "allow");
    assert.equal((await jwt.authenticate(creds(ok, { username: "bob" }))).result, "deny");
    assert.equal((await jwt.authenticate(creds(ok, { username: undefined }))).result, "deny");
    const missing = await sign({}, hmacKey);
    assert.equal((await jwt.authenticate(creds(missing))).result, "deny");
  });
});

describe("JwtAuthenticator.create errors", () => {
  const configError = (...words: string[]) => {
    return (err: unknown) =>
      err instanceof RobustMQError &&
      err.code === "RMQ_ERR_CONFIG_INVALID" &&
      words.every((word) => err.message.includes(word));
  };

  test("no key at all names mqtt_auth_jwt", async () => {
    await assert.rejects(JwtAuthenticator.create(options({})), configError("mqtt_auth_jwt"));
  });

  test("an unreadable or invalid key file names the key and the file", async () => {
    const missing = join(dir, "missing.pem");
    await assert.rejects(
      JwtAuthenticator.create(options({ public_key_file: missing })),
      configError("mqtt_auth_jwt.public_key_file", missing),
    );
    const notPem = join(dir, "not.pem");
    writeFileSync(notPem, "hello");
    await assert.rejects(
      JwtAuthenticator.create(options({ public_key_file: notPem })),
      configError("mqtt_auth_jwt.public_key_file", notPem),
    );
    const notJson = join(dir, "not.json");
    writeFileSync(notJson, "{");
    await assert.rejects(
      JwtAuthenticator.create(options({ jwks_file: notJson })),
      configError("mqtt_auth_jwt.jwks_file", notJson),
    );
    const noKeys = join(dir, "no-keys.json");
    writeFileSync(noKeys, '{"keys": []}');
    await assert.rejects(
      JwtAuthenticator.create(options({ jwks_file: noKeys })),
      configError("mqtt_auth_jwt.jwks_file", noKeys),
    );
  });

  test("a bad base64 secret and a user name check on the token field are refused", async () => {
    await assert.rejects(
      JwtAuthenticator.create(options({ secret: "not base64!", secret_base64: true })),
      configError("mqtt_auth_jwt", "secret"),
    );
    await assert.rejects(
      JwtAuthenticator.create(options({ secret: SECRET, from: "username", verify_username: true })),
      configError("mqtt_auth_jwt", "verify_username"),
    );
  });
});

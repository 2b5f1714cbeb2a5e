/**
 * The SASL state machine of one Kafka connection, with real SCRAM credentials and a hand-written
 * SCRAM client: the order of steps, what each refusal ends, and who is authenticated.
 */
import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { test } from "node:test";
import type { KafkaSaslMechanism } from "../../../../../src/broker/kafka/sasl/mechanisms.ts";
import {
  type CheckResult,
  type KafkaAuthenticator,
  PLAIN_FAILED,
  SaslSession,
} from "../../../../../src/broker/kafka/sasl/sasl-session.ts";
import { KafkaError } from "../../../../../src/protocol/kafka/error-codes.ts";
import {
  deriveScramCredential,
  type ScramCredential,
  type ScramMechanism,
  ScramServerExchange,
} from "../../../../../src/security/scram.ts";

const WHO = { clientId: "c1", ip: "127.0.0.1" };

class TestAuthenticator implements KafkaAuthenticator {
  readonly mechanisms: KafkaSaslMechanism[] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];
  readonly credentials = new Map<string, ScramCredential>();
  readonly outcomes: boolean[] = [];
  banned = new Set<string>();
  readonly allowAnonymous: boolean;
  constructor(allowAnonymous = false) {
    this.allowAnonymous = allowAnonymous;
  }
  async checkPlain(username: string, password: string): Promise<CheckResult> {
    if (this.banned.has(username)) return { ok: false, reason: "banned" };
    if (username === "queued") return { ok: false, reason: "server busy", busy: true };
    if (password !== "pw") return { ok: false, reason: "bad" };
    if (username === "root") return { ok: true, superuser: true };
    return username === "alice" ? { ok: true } : { ok: false, reason: "bad" };
  }
  scramExchange(mechanism: ScramMechanism): ScramServerExchange {
    return new ScramServerExchange(mechanism, (name) =>
      this.credentials.get(`${mechanism}/${name}`),
    );
  }
  admit(username: string): CheckResult {
    return this.banned.has(username) ? { ok: false, reason: "banned" } : { ok: true };
  }
  recordOutcome(succeeded: boolean): void {
    this.outcomes.push(succeeded);
  }
  isSuperuser(username: string): boolean {
    return username === "root";
  }
}

/** A SCRAM client as RFC 5802 describes it: two messages, and the server signature checked. */
async function scramLogin(
  session: SaslSession,
  mechanism: ScramMechanism,
  username: string,
  password: string,
) {
  const hash = mechanism === "SCRAM-SHA-256" ? "sha256" : "sha512";
  const nonce = randomBytes(18).toString("base64");
  const bare = `n=${username},r=${nonce}`;
  const first = await session.authenticate(Buffer.from(`n,,${bare}`), WHO);
  if (first.errorCode !== 0) return { first, final: null };
  const serverFirst = first.authBytes.toString();
  const fields = Object.fromEntries(serverFirst.split(",").map((f) => [f[0], f.slice(2)]));
  const { pbkdf2Sync } = await import("node:crypto");
  const salted = pbkdf2Sync(
    password,
    Buffer.from(fields.s, "base64"),
    Number(fields.i),
    hash === "sha256" ? 32 : 64,
    hash,
  );
  const clientKey = createHmac(hash, salted).update("Client Key").digest();
  const storedKey = createHash(hash).update(clientKey).digest();
  const withoutProof = `c=biws,r=${fields.r}`;
  const authMessage = `${bare},${serverFirst},${withoutProof}`;
  const signature = createHmac(hash, storedKey).update(authMessage).digest();
  const proof = Buffer.from(clientKey.map((byte, i) => byte ^ signature[i]));
  const final = await session.authenticate(
    Buffer.from(`${withoutProof},p=${proof.toString("base64")}`),
    WHO,
  );
  return { first, final };
}

test("PLAIN: the right password authenticates once; nothing is served before", async () => {
  const authenticator = new TestAuthenticator();
  const session = new SaslSession(authenticator);
  assert.equal(session.mayServe, false);
  assert.equal(session.handshake("PLAIN").errorCode, 0);
  assert.equal(session.mayServe, false);
  const step = await session.authenticate(Buffer.from("\0alice\0pw"), WHO);
  assert.equal(step.errorCode, 0);
  assert.equal(step.principal, "alice");
  assert.equal(session.principal, "alice");
  assert.equal(session.mayServe, true);
  assert.equal(session.handshake("PLAIN").errorCode, KafkaError.ILLEGAL_SASL_STATE);
  assert.equal(session.superuser, false);
  assert.deepEqual(authenticator.outcomes, [true]);
  const root = new SaslSession(authenticator);
  root.handshake("PLAIN");
  await root.authenticate(Buffer.from("\0root\0pw"), WHO);
  assert.equal(root.superuser, true, "the authenticator's superuser flag is kept");
});

test("PLAIN: a wrong password is Kafka's message and closes; the reason is kept for the log", async () => {
  const authenticator = new TestAuthenticator();
  const session = new SaslSession(authenticator);
  session.handshake("PLAIN");
  const step = await session.authenticate(Buffer.from("\0alice\0nope"), WHO);
  assert.equal(step.errorCode, KafkaError.SASL_AUTHENTICATION_FAILED);
  assert.equal(step.errorMessage, PLAIN_FAILED);
  assert.equal(step.logReason, "bad");
  assert.equal(step.username, "alice");
  assert.equal(step.close, true);
  assert.equal(session.mayServe, false);
  const again = await session.authenticate(Buffer.from("\0alice\0pw"), WHO);
  assert.equal(again.errorCode, KafkaError.ILLEGAL_SASL_STATE, "no second try on one connection");
  assert.deepEqual(authenticator.outcomes, [false]);
});

test("PLAIN: a check that could not run now closes without an answer and counts nothing", async () => {
  const authenticator = new TestAuthenticator();
  const session = new SaslSession(authenticator);
  session.handshake("PLAIN");
  const step = await session.authenticate(Buffer.from("\0queued\0pw"), WHO);
  assert.equal(step.busy, true);
  assert.equal(step.close, true);
  assert.equal(session.mayServe, false);
  assert.deepEqual(authenticator.outcomes, []);
});

test("steps out of order and unknown mechanisms end the session", async () => {
  const session = new SaslSession(new TestAuthenticator());
  const early = await session.authenticate(Buffer.from("\0alice\0pw"), WHO);
  assert.equal(early.errorCode, KafkaError.ILLEGAL_SASL_STATE);
  assert.equal(early.close, true);
  const other = new SaslSession(new TestAuthenticator());
  const answer = other.handshake("GSSAPI");
  assert.equal(answer.errorCode, KafkaError.UNSUPPORTED_SASL_MECHANISM);
  assert.deepEqual(answer.mechanisms, ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]);
  assert.equal(answer.close, true);
  assert.equal(other.handshake("PLAIN").errorCode, KafkaError.ILLEGAL_SASL_STATE);
});

for (const mechanism of ["SCRAM-SHA-256", "SCRAM-SHA-512"] as const) {
  test(`${mechanism}: the right password authenticates, a wrong one and a ban do not`, async () => {
    const authenticator = new TestAuthenticator();
    authenticator.credentials.set(
      `${mechanism}/alice`,
      await deriveScramCredential(mechanism, "secret"),
    );
    const good = new SaslSession(authenticator);
    good.handshake(mechanism);
    const ok = await scramLogin(good, mechanism, "alice", "secret");
    assert.equal(ok.final?.errorCode, 0);
    assert.equal(ok.final?.principal, "alice");
    assert.match(ok.final?.authBytes.toString() ?? "", /^v=/);

    const wrong = new SaslSession(authenticator);
    wrong.handshake(mechanism);
    const refused = await scramLogin(wrong, mechanism, "alice", "guess");
    assert.equal(refused.first.errorCode, 0, "the first step does not tell");
    assert.equal(refused.final?.errorCode, KafkaError.SASL_AUTHENTICATION_FAILED);
    assert.equal(refused.final?.close, true);
    assert.equal(wrong.principal, null);

    authenticator.banned.add("alice");
    const banned = new SaslSession(authenticator);
    banned.handshake(mechanism);
    const out = await scramLogin(banned, mechanism, "alice", "secret");
    assert.equal(out.final?.errorCode, KafkaError.SASL_AUTHENTICATION_FAILED);
    assert.equal(out.final?.username, "alice");
    assert.deepEqual(authenticator.outcomes, [true, false, false]);
  });
}

test("a verified certificate is a principal; anonymous access serves without one", () => {
  assert.equal(new SaslSession(new TestAuthenticator(), "device-7").mayServe, true);
  const open = new SaslSession(new TestAuthenticator(true));
  assert.equal(open.mayServe, true);
  assert.equal(open.principal, null);
});

test("a client with a verified certificate may still authenticate by SASL (SASL_SSL)", async () => {
  const session = new SaslSession(new TestAuthenticator(), "device-7");
  assert.equal(session.handshake("PLAIN").errorCode, 0);
  assert.equal(session.mayServe, false, "not in the middle of an exchange");
  const step = await session.authenticate(Buffer.from("\0alice\0pw"), WHO);
  assert.equal(step.errorCode, 0);
  assert.equal(session.principal, "alice", "the SASL user, as Kafka");
  assert.equal(session.mayServe, true);
  assert.equal(session.handshake("PLAIN").errorCode, KafkaError.ILLEGAL_SASL_STATE);
});

test("nothing but SASL is served while an exchange is under way, even to anonymous clients", async () => {
  const authenticator = new TestAuthenticator(true);
  authenticator.credentials.set(
    "SCRAM-SHA-256/alice",
    await deriveScramCredential("SCRAM-SHA-256", "secret"),
  );
  const session = new SaslSession(authenticator);
  assert.equal(session.mayServe, true);
  session.handshake("SCRAM-SHA-256");
  assert.equal(session.mayServe, false);
  const first = await session.authenticate(Buffer.from("n,,n=alice,r=abcdefgh"), WHO);
  assert.equal(first.errorCode, 0);
  assert.equal(session.mayServe, false);
});

test("after SaslHandshake v0 the frames of the exchange are raw tokens, and only those", async () => {
  const authenticator = new TestAuthenticator();
  authenticator.credentials.set(
    "SCRAM-SHA-512/alice",
    await deriveScramCredential("SCRAM-SHA-512", "secret"),
  );
  const framed = new SaslSession(authenticator);
  framed.handshake("PLAIN");
  assert.equal(framed.expectsRawToken, false, "v1: tokens come in SaslAuthenticate");

  const plain = new SaslSession(authenticator);
  assert.equal(plain.expectsRawToken, false, "not before the handshake");
  plain.handshake("PLAIN", true);
  assert.equal(plain.expectsRawToken, true);
  assert.equal((await plain.authenticate(Buffer.from("\0alice\0pw"), WHO)).principal, "alice");
  assert.equal(plain.expectsRawToken, false, "requests again once authenticated");

  const scram = new SaslSession(authenticator);
  scram.handshake("SCRAM-SHA-512", true);
  const { first, final } = await scramLogin(scram, "SCRAM-SHA-512", "alice", "secret");
  assert.equal(first.errorCode, 0);
  assert.equal(final?.principal, "alice");
  assert.equal(scram.expectsRawToken, false);

  const refused = new SaslSession(authenticator);
  refused.handshake("PLAIN", true);
  assert.equal((await refused.authenticate(Buffer.from("\0alice\0no"), WHO)).close, true);
  assert.equal(refused.expectsRawToken, false, "a refusal ends the exchange");
  assert.equal(new SaslSession(authenticator).handshake("GSSAPI", true).close, true);
});

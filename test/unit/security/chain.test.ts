/**
 * The authenticator chain's rules: certificate first, then anonymous clients, then the
 * authenticators in order (first allow or deny wins, ignore and failures pass on). The
 * authenticators here are scripted stand-ins; the chain itself is the real one.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MqttAuthSchema } from "../../../src/config/schema.ts";
import { createLogger } from "../../../src/log/logger.ts";
import { ReasonCode } from "../../../src/protocol/mqtt/constants.ts";
import {
  ANONYMOUS_DISABLED_REASON,
  AuthenticatorChain,
  allowAnonymousOf,
  NOT_ACCEPTED_REASON,
} from "../../../src/security/authn/chain.ts";
import type {
  Authenticator,
  AuthenticatorName,
  AuthnResult,
  Credentials,
} from "../../../src/security/types.ts";

/** Answers with a fixed result (or throws), counting the questions. */
class Scripted implements Authenticator {
  readonly name: AuthenticatorName;
  readonly #answer: AuthnResult | Error;
  calls = 0;

  constructor(name: AuthenticatorName, answer: AuthnResult | Error) {
    this.name = name;
    this.#answer = answer;
  }

  async authenticate(): Promise<AuthnResult> {
    this.calls += 1;
    if (this.#answer instanceof Error) throw this.#answer;
    return this.#answer;
  }
}

const allow = (superuser = false): AuthnResult => ({ result: "allow", superuser });
const deny = (reason: string): AuthnResult => ({ result: "deny", reason });
const ignore: AuthnResult = { result: "ignore", reason: "not mine" };

function capturingLogger() {
  const lines: string[] = [];
  const logger = createLogger({
    level: "warn",
    format: "json",
    destination: { write: (line: string) => lines.push(line) },
  });
  return { logger, lines };
}
const silent = createLogger({ level: "silent", format: "json" });

function creds(extra: Partial<Credentials> = {}): Credentials {
  return {
    clientId: "c",
    username: "u",
    password: Buffer.from("p"),
    ip: "127.0.0.1",
    certificateUsername: undefined,
    ...extra,
  };
}
const anonymous = creds({ username: undefined, password: undefined });

const badCredentials = (reason: string) => ({
  allowed: false,
  reasonCode: ReasonCode.BAD_USER_NAME_OR_PASSWORD,
  reason,
});

describe("allowAnonymousOf", () => {
  test('"auto" is true exactly when no authenticator is configured', () => {
    const of = (input: object) => allowAnonymousOf(MqttAuthSchema.parse(input));
    assert.equal(of({}), true);
    assert.equal(of({ authenticators: ["built_in"] }), false);
    assert.equal(of({ allow_anonymous: true, authenticators: ["jwt"] }), true);
    assert.equal(of({ allow_anonymous: false }), false);
  });
});

describe("AuthenticatorChain", () => {
  test("a verified certificate is enough: no authenticator is asked", async () => {
    const denier = new Scripted("built_in", deny("no"));
    const chain = new AuthenticatorChain([denier], false, silent);
    assert.deepEqual(await chain.authenticate(creds({ certificateUsername: "device-7" })), {
      allowed: true,
      superuser: false,
      by: "certificate",
    });
    assert.equal(denier.calls, 0);
  });

  test("no user name and no password: anonymous, allowed only when enabled", async () => {
    const allower = new Scripted("http", allow(true));
    const open = new AuthenticatorChain([allower], true, silent);
    assert.deepEqual(await open.authenticate(anonymous), {
      allowed: true,
      superuser: false,
      by: "anonymous",
    });
    const closed = new AuthenticatorChain([allower], false, silent);
    assert.deepEqual(await closed.authenticate(anonymous), {
      allowed: false,
      reasonCode: ReasonCode.NOT_AUTHORIZED,
      reason: ANONYMOUS_DISABLED_REASON,
    });
    assert.equal(allower.calls, 0);
    assert.equal(ReasonCode.NOT_AUTHORIZED, 0x87);
  });

  test("without authenticators, credentials are not checked when anonymous is on", async () => {
    const open = new AuthenticatorChain([], true, silent);
    assert.deepEqual(await open.authenticate(creds()), {
      allowed: true,
      superuser: false,
      by: "anonymous",
    });
    const closed = new AuthenticatorChain([], false, silent);
    assert.deepEqual(await closed.authenticate(creds()), badCredentials(NOT_ACCEPTED_REASON));
    assert.equal(ReasonCode.BAD_USER_NAME_OR_PASSWORD, 0x86);
  });

  test("the first allow wins and carries its superuser flag", async () => {
    const first = new Scripted("jwt", ignore);
    const second = new Scripted("built_in", allow(true));
    const third = new Scripted("http", deny("never asked"));
    const chain = new AuthenticatorChain([first, second, third], false, silent);
    assert.deepEqual(await chain.authenticate(creds()), {
      allowed: true,
      superuser: true,
      by: "built_in",
    });
    assert.deepEqual([first.calls, second.calls, third.calls], [1, 1, 0]);
  });

  test("the first deny ends the chain with 0x86 and its reason", async () => {
    const first = new Scripted("built_in", deny("wrong password"));
    const second = new Scripted("http", allow());
    const chain = new AuthenticatorChain([first, second], true, silent);
    assert.deepEqual(await chain.authenticate(creds()), badCredentials("wrong password"));
    assert.equal(second.calls, 0);
  });

  test("a user name alone, or a password alone, goes to the authenticators", async () => {
    const judge = new Scripted("built_in", deny("no password"));
    const chain = new AuthenticatorChain([judge], true, silent);
    assert.deepEqual(
      await chain.authenticate(creds({ password: undefined })),
      badCredentials("no password"),
    );
    assert.equal((await chain.authenticate(creds({ username: undefined }))).allowed, false);
    assert.equal(judge.calls, 2);
  });

  test("all ignore: refused, even with anonymous access on", async () => {
    const chain = new AuthenticatorChain(
      [new Scripted("built_in", ignore), new Scripted("jwt", ignore)],
      true,
      silent,
    );
    assert.deepEqual(await chain.authenticate(creds()), badCredentials(NOT_ACCEPTED_REASON));
  });

  test("an authenticator that throws counts as ignore, with a warning", async () => {
    const { logger, lines } = capturingLogger();
    const broken = new Scripted("http", new Error("boom"));
    const next = new Scripted("built_in", allow());
    const chain = new AuthenticatorChain([broken, next], false, logger);
    assert.deepEqual(await chain.authenticate(creds()), {
      allowed: true,
      superuser: false,
      by: "built_in",
    });
    assert.equal(lines.length, 1);
    const line = JSON.parse(lines[0]) as { level: string; authenticator: string };
    assert.equal(line.level, "warn");
    assert.equal(line.authenticator, "http");
    const alone = new AuthenticatorChain([broken], true, silent);
    assert.deepEqual(await alone.authenticate(creds()), badCredentials(NOT_ACCEPTED_REASON));
  });

  test("an authenticator listed twice is a programming error", () => {
    const a = new Scripted("jwt", ignore);
    assert.throws(() => new AuthenticatorChain([a, a], false, silent), /assertion failed/);
  });
});

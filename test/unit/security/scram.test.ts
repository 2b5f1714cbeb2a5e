/**
 * SCRAM-SHA-256/512 server exchange: RFC 7677's test vector byte for byte, round trips with a
 * client written here from RFC 5802, every refusal Kafka's variant requires (channel binding,
 * foreign authzid, delegation tokens, bad escapes, tampered final messages, wrong order), an
 * unknown user that looks like a wrong password, and random input that never throws.
 */
import assert from "node:assert/strict";
import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  deriveScramCredential,
  isScramCredential,
  isScramMechanism,
  SCRAM_INVALID_CREDENTIALS,
  SCRAM_ITERATIONS,
  SCRAM_MECHANISMS,
  SCRAM_MESSAGE_BYTES_MAX,
  SCRAM_SALT_BYTES,
  type ScramCredential,
  type ScramFinalResult,
  type ScramFirstResult,
  type ScramLookup,
  type ScramMechanism,
  ScramServerExchange,
} from "../../../src/security/scram.ts";

const ALGORITHMS = { "SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512" } as const;
const HASH_BYTES = { "SCRAM-SHA-256": 32, "SCRAM-SHA-512": 64 } as const;
const CLIENT_NONCE = "fyko+d2lbbFgONRv9qkxdawL";

function lookupOf(entries: Record<string, ScramCredential>): ScramLookup {
  const users = new Map(Object.entries(entries));
  return (username) => users.get(username);
}

interface ClientOptions {
  /** The n= value as sent, escapes included. */
  readonly saslName: string;
  readonly password: string;
  readonly gs2Header?: string;
  readonly extensions?: string;
  /** Rewrites client-final-message before it is sent. */
  readonly tamper?: (final: string) => string;
  /** Sends the client nonce again in front of the combined one, as librdkafka does. */
  readonly repeatClientNonce?: boolean;
}

interface ClientRun {
  readonly first: ScramFirstResult;
  readonly final?: ScramFinalResult;
  /** The v= a genuine server would send for this run. */
  readonly expectedServerFinal?: string;
}

/** RFC 5802's client side, written independently of the server under test. */
function runClient(exchange: ScramServerExchange, options: ClientOptions): ClientRun {
  const algorithm = ALGORITHMS[exchange.mechanism];
  const gs2Header = options.gs2Header ?? "n,,";
  const bare = `n=${options.saslName},r=${CLIENT_NONCE}${options.extensions ?? ""}`;
  const first = exchange.clientFirst(Buffer.from(gs2Header + bare));
  if (!first.ok) return { first };
  const serverFirst = first.serverFirst.toString();
  const match = /^r=([^,]+),s=([^,]+),i=(\d+)$/.exec(serverFirst);
  assert.ok(match, `server-first message: ${serverFirst}`);
  const [, nonce, salt, iterations] = match;
  assert.ok(nonce.startsWith(CLIENT_NONCE) && nonce.length > CLIENT_NONCE.length);
  const salted = pbkdf2Sync(
    options.password,
    Buffer.from(salt, "base64"),
    Number(iterations),
    HASH_BYTES[exchange.mechanism],
    algorithm,
  );
  const clientKey = createHmac(algorithm, salted).update("Client Key").digest();
  const storedKey = createHash(algorithm).update(clientKey).digest();
  const sentNonce = options.repeatClientNonce === true ? CLIENT_NONCE + nonce : nonce;
  const withoutProof = `c=${Buffer.from(gs2Header).toString("base64")},r=${sentNonce}`;
  const authMessage = `${bare},${serverFirst},${withoutProof}`;
  const signature = createHmac(algorithm, storedKey).update(authMessage).digest();
  const proof = Buffer.from(clientKey.map((byte, i) => byte ^ signature[i]));
  const finalMessage = `${withoutProof},p=${proof.toString("base64")}`;
  const final = exchange.clientFinal(Buffer.from(options.tamper?.(finalMessage) ?? finalMessage));
  const serverKey = createHmac(algorithm, salted).update("Server Key").digest();
  const expected = createHmac(algorithm, serverKey).update(authMessage).digest("base64");
  return { first, final, expectedServerFinal: `v=${expected}` };
}

function refused(result: ScramFirstResult | ScramFinalResult | undefined): string {
  assert.ok(result !== undefined && !result.ok, "expected a refusal");
  return result.reason;
}

describe("RFC 7677 SCRAM-SHA-256 test vector", () => {
  test("server-first and server-final match the RFC byte for byte", async () => {
    const credential = await deriveScramCredential("SCRAM-SHA-256", "pencil", {
      salt: Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64"),
      iterations: 4096,
    });
    const exchange = new ScramServerExchange("SCRAM-SHA-256", lookupOf({ user: credential }), {
      nonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    });
    const first = exchange.clientFirst(Buffer.from("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
    assert.ok(first.ok);
    assert.equal(
      first.serverFirst.toString(),
      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    );
    const final = exchange.clientFinal(
      Buffer.from(
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," +
          "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
      ),
    );
    assert.ok(final.ok);
    assert.equal(final.serverFinal.toString(), "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    assert.equal(final.username, "user");
    assert.equal(exchange.finished, true);
  });
});

describe("deriveScramCredential and isScramCredential", () => {
  test("fresh credentials have the digest's key length, 4096 iterations, a random salt", async () => {
    for (const mechanism of SCRAM_MECHANISMS) {
      const [a, b] = await Promise.all([
        deriveScramCredential(mechanism, "pw"),
        deriveScramCredential(mechanism, "pw"),
      ]);
      assert.ok(isScramCredential(a, mechanism));
      assert.ok(isScramCredential(a));
      assert.equal(a.iterations, SCRAM_ITERATIONS);
      assert.equal(Buffer.from(a.salt, "base64").length, SCRAM_SALT_BYTES);
      assert.equal(Buffer.from(a.storedKey, "base64").length, HASH_BYTES[mechanism]);
      assert.equal(Buffer.from(a.serverKey, "base64").length, HASH_BYTES[mechanism]);
      assert.notEqual(a.salt, b.salt);
      assert.notEqual(a.storedKey, b.storedKey);
    }
  });

  test("isScramMechanism knows exactly the two mechanisms", () => {
    assert.ok(SCRAM_MECHANISMS.every(isScramMechanism));
    for (const name of ["PLAIN", "SCRAM-SHA-1", "scram-sha-256", ""]) {
      assert.equal(isScramMechanism(name), false, name);
    }
  });

  test("damaged or out-of-bounds credentials are refused", async () => {
    const good = await deriveScramCredential("SCRAM-SHA-512", "pw");
    assert.equal(isScramCredential(good, "SCRAM-SHA-256"), false, "512-bit keys for SHA-256");
    const bad: unknown[] = [
      null,
      "x",
      [],
      { ...good, iterations: 4095 },
      { ...good, iterations: 1_000_001 },
      { ...good, iterations: 4096.5 },
      { ...good, iterations: "4096" },
      { ...good, salt: "" },
      { ...good, salt: "not base64!" },
      { ...good, salt: "QQ" }, // unpadded, so not canonical
      { ...good, storedKey: good.storedKey.slice(4) },
      { ...good, serverKey: Buffer.alloc(32).toString("base64") },
      { salt: good.salt, iterations: good.iterations, storedKey: good.storedKey },
    ];
    for (const value of bad) assert.equal(isScramCredential(value), false, JSON.stringify(value));
    await assert.rejects(deriveScramCredential("SCRAM-SHA-256", "pw", { iterations: 1 }));
  });
});

describe("ScramServerExchange", () => {
  test("a SCRAM-SHA-512 round trip succeeds and proves the server knows the key", async () => {
    const credential = await deriveScramCredential("SCRAM-SHA-512", "s3cret é");
    const exchange = new ScramServerExchange("SCRAM-SHA-512", lookupOf({ alice: credential }));
    const run = runClient(exchange, { saslName: "alice", password: "s3cret é" });
    assert.ok(run.final?.ok);
    assert.equal(run.final.username, "alice");
    assert.equal(run.final.serverFinal.toString(), run.expectedServerFinal);
    // Once over, the exchange takes nothing more.
    refused(exchange.clientFirst(Buffer.from(`n,,n=alice,r=${CLIENT_NONCE}`)));
  });

  test("librdkafka's final nonce (its own nonce again in front) is accepted, as Kafka does", async () => {
    const credential = await deriveScramCredential("SCRAM-SHA-256", "pw");
    const exchange = new ScramServerExchange("SCRAM-SHA-256", lookupOf({ kc: credential }));
    const run = runClient(exchange, { saslName: "kc", password: "pw", repeatClientNonce: true });
    assert.ok(run.final?.ok);
    assert.equal(run.final.serverFinal.toString(), run.expectedServerFinal);
  });

  test("a wrong password fails with Kafka's reason", async () => {
    for (const mechanism of SCRAM_MECHANISMS) {
      const credential = await deriveScramCredential(mechanism, "right");
      const exchange = new ScramServerExchange(mechanism, lookupOf({ bob: credential }));
      const run = runClient(exchange, { saslName: "bob", password: "wrong" });
      assert.equal(refused(run.final), SCRAM_INVALID_CREDENTIALS);
      refused(exchange.clientFinal(Buffer.from("c=biws,r=x,p=AAAA")));
    }
  });

  test("an unknown user gets a stable salt and the wrong password's failure", async () => {
    const credential = await deriveScramCredential("SCRAM-SHA-256", "pw");
    const lookup = lookupOf({ real: credential });
    const mockSecret = Buffer.alloc(32, 7);
    const salts: string[] = [];
    for (const name of ["ghost", "ghost", "other"]) {
      const exchange = new ScramServerExchange("SCRAM-SHA-256", lookup, { mockSecret });
      const run = runClient(exchange, { saslName: name, password: "pw" });
      assert.ok(run.first.ok);
      const [, salt, iterations] = run.first.serverFirst.toString().split(",");
      assert.equal(iterations, `i=${SCRAM_ITERATIONS}`);
      assert.equal(Buffer.from(salt.slice(2), "base64").length, SCRAM_SALT_BYTES);
      salts.push(salt);
      assert.equal(refused(run.final), SCRAM_INVALID_CREDENTIALS);
    }
    assert.equal(salts[0], salts[1], "the same name gets the same salt each time");
    assert.notEqual(salts[0], salts[2]);
    // A credential of the other mechanism is as good as none.
    const exchange = new ScramServerExchange("SCRAM-SHA-512", lookup);
    const run = runClient(exchange, { saslName: "real", password: "pw" });
    assert.equal(refused(run.final), SCRAM_INVALID_CREDENTIALS);
  });

  test("user names decode =2C and =3D; any other = sequence is refused", async () => {
    const credential = await deriveScramCredential("SCRAM-SHA-256", "pw");
    const seen: string[] = [];
    const lookup: ScramLookup = (username) => {
      seen.push(username);
      return username === "a,b=c" ? credential : undefined;
    };
    const exchange = new ScramServerExchange("SCRAM-SHA-256", lookup);
    const run = runClient(exchange, { saslName: "a=2Cb=3Dc", password: "pw" });
    assert.ok(run.final?.ok);
    assert.equal(run.final.username, "a,b=c");
    for (const saslName of ["a=2cb", "a=3", "a=", "=", "a=20b", "a==3D", ""]) {
      const bad = new ScramServerExchange("SCRAM-SHA-256", lookup);
      refused(runClient(bad, { saslName, password: "pw" }).first);
    }
    assert.deepEqual(seen, ["a,b=c"], "a refused name is never looked up");
  });

  test("an authzid must be the user; y,, is accepted; channel binding is refused", async () => {
    const credential = await deriveScramCredential("SCRAM-SHA-256", "pw");
    const lookup = lookupOf({ "u,1": credential });
    const attempt = (gs2Header: string) =>
      runClient(new ScramServerExchange("SCRAM-SHA-256", lookup), {
        saslName: "u=2C1",
        password: "pw",
        gs2Header,
      });
    assert.ok(attempt("n,a=u=2C1,").final?.ok);
    assert.ok(attempt("y,,").final?.ok);
    assert.match(refused(attempt("n,a=admin,").first), /authorization id that is different/);
    refused(attempt("n,a=,").first);
    refused(attempt("n,x=u,").first);
    assert.match(refused(attempt("p=tls-server-end-point,,").first), /channel binding/);
    refused(attempt("q,,").first);
    refused(attempt(",,").first);
  });

  test("tokenauth=true is refused; other extensions pass through", async () => {
    const credential = await deriveScramCredential("SCRAM-SHA-512", "pw");
    const lookup = lookupOf({ u: credential });
    const attempt = (extensions: string) =>
      runClient(new ScramServerExchange("SCRAM-SHA-512", lookup), {
        saslName: "u",
        password: "pw",
        extensions,
      });
    assert.match(refused(attempt(",tokenauth=true").first), /delegation tokens/);
    assert.match(refused(attempt(",foo=1,tokenauth=TRUE").first), /delegation tokens/);
    assert.ok(attempt(",foo=bar=baz").final?.ok);
    assert.ok(attempt(",tokenauth=false").final?.ok);
    for (const extensions of [",", ",foo", ",foo=", ",=x", ",p=x", ",1=x"]) {
      refused(attempt(extensions).first);
    }
    const bare = (message: string) =>
      refused(new ScramServerExchange("SCRAM-SHA-512", lookup).clientFirst(Buffer.from(message)));
    assert.match(bare("n,,m=x,n=u,r=x"), /mandatory extensions/);
    assert.match(bare("n,,r=x,n=u"), /must start with n= then r=/);
    assert.match(bare("n,,n=u"), /must start with n= then r=/);
    assert.match(bare("n,,n=u,r="), /client nonce/);
    assert.match(bare("n,,n=u,r=a b"), /client nonce/);
  });

  test("a tampered client-final message is refused", async () => {
    const credential = await deriveScramCredential("SCRAM-SHA-256", "pw");
    const lookup = lookupOf({ u: credential });
    const attempt = (tamper: (final: string) => string) =>
      runClient(new ScramServerExchange("SCRAM-SHA-256", lookup), {
        saslName: "u",
        password: "pw",
        tamper,
      }).final;
    assert.ok(attempt((final) => final)?.ok, "untampered control");
    const cases: Array<[string, (final: string) => string, RegExp]> = [
      ["c= of y,,", (f) => f.replace("c=biws", "c=eSws"), /channel binding/],
      ["c= missing", (f) => f.replace("c=biws,", ""), /must start with c=/],
      [
        "r= shortened",
        (f) => f.replace(/,r=([^,]+)/, (_, r: string) => `,r=${r.slice(0, -1)}`),
        /nonce/,
      ],
      ["r= client part only", (f) => f.replace(/,r=([^,]+)/, `,r=${CLIENT_NONCE}`), /nonce/],
      [
        "proof truncated",
        (f) => f.replace(/,p=(.+)$/, (_, p: string) => `,p=${p.slice(0, 40)}`),
        /proof/,
      ],
      [
        "proof 4 bytes short",
        (f) =>
          f.replace(
            /,p=(.+)$/,
            (_, p: string) => `,p=${Buffer.from(p, "base64").subarray(4).toString("base64")}`,
          ),
        /proof/,
      ],
      ["proof not last", (f) => `${f},x=1`, /./],
      ["two proofs", (f) => f.replace(",p=", ",p=AAAA,p="), /./],
      ["no proof", (f) => f.replace(/,p=.+$/, ""), /no proof/],
      [
        "one bit flipped",
        (f) => f.replace(/,p=(.)/, (_, c: string) => `,p=${c === "A" ? "B" : "A"}`),
        /Invalid user credentials/,
      ],
    ];
    for (const [name, tamper, reason] of cases) {
      assert.match(refused(attempt(tamper)), reason, name);
    }
  });

  test("messages out of order are refused, never thrown", async () => {
    const credential = await deriveScramCredential("SCRAM-SHA-256", "pw");
    const lookup = lookupOf({ u: credential });
    const early = new ScramServerExchange("SCRAM-SHA-256", lookup);
    assert.match(refused(early.clientFinal(Buffer.from("c=biws,r=x,p=AAAA"))), /out of order/);
    assert.match(refused(early.clientFirst(Buffer.from("n,,n=u,r=x"))), /out of order/);
    const twice = new ScramServerExchange("SCRAM-SHA-256", lookup);
    assert.ok(twice.clientFirst(Buffer.from("n,,n=u,r=x")).ok);
    assert.match(refused(twice.clientFirst(Buffer.from("n,,n=u,r=x"))), /out of order/);
    assert.equal(twice.finished, true);
  });

  test("oversized, non-UTF-8 and NUL-holding messages are refused", () => {
    const lookup = lookupOf({});
    const attempt = (message: Buffer) =>
      refused(new ScramServerExchange("SCRAM-SHA-256", lookup).clientFirst(message));
    const huge = Buffer.from(`n,,n=${"u".repeat(SCRAM_MESSAGE_BYTES_MAX)},r=x`);
    assert.match(attempt(huge), /longer than/);
    assert.match(attempt(Buffer.from([0x6e, 0x2c, 0x2c, 0x6e, 0x3d, 0xff, 0x2c])), /UTF-8/);
    assert.match(attempt(Buffer.from("n,,n=u\0v,r=x")), /NUL/);
    assert.ok(
      new ScramServerExchange("SCRAM-SHA-256", lookup).clientFirst(Buffer.from("n,,n=é,r=x")).ok,
    );
  });
});

describe("ScramServerExchange on random input", () => {
  const SEED = 20_240_601;
  const TOKENS = ["n", "y", "p=", "a=", "n=", "r=", "c=", "s=", "i=", "m=", ",", "=", "=2C"];
  // A fixed server nonce "S" and proofs of both digest lengths let random final messages get
  // as far as the proof check.
  const PROOFS = [Buffer.alloc(32, 1).toString("base64"), Buffer.alloc(64, 1).toString("base64")];
  const tokenMessage = fc
    .array(
      fc.oneof(
        fc.constantFrom(...TOKENS, "=3D", "biws", "u", "abc", "abcS", "tokenauth=true", ...PROOFS),
      ),
      {
        maxLength: 24,
      },
    )
    .map((parts) => Buffer.from(parts.join("")));
  // Near-valid final messages, so some reach the proof check.
  const finalShaped = fc
    .tuple(
      fc.constantFrom("c=biws", "c=eSws", "c=", ""),
      fc.constantFrom(",r=abcS", ",r=abc", ""),
      fc.constantFrom("", ",x=1", ",p=AAAA"),
      fc.constantFrom(",p=", ",p=x", "", ...PROOFS.map((proof) => `,p=${proof}`)),
    )
    .map((parts) => Buffer.from(parts.join("")));
  const anyMessage = fc.oneof(
    fc.uint8Array({ maxLength: 512 }).map(Buffer.from),
    tokenMessage,
    finalShaped,
  );

  function noThrow(call: () => ScramFirstResult | ScramFinalResult): void {
    let result: ScramFirstResult | ScramFinalResult;
    try {
      result = call();
    } catch (thrown) {
      assert.fail(`threw: ${thrown instanceof Error ? thrown.stack : String(thrown)}`);
    }
    assert.equal(typeof result.ok, "boolean");
    if (!result.ok) assert.ok(result.reason.length > 0);
  }

  test("2,000 random client-first and client-final messages never throw", async () => {
    const credentials = Object.fromEntries(
      await Promise.all(
        SCRAM_MECHANISMS.map(async (m) => [m, await deriveScramCredential(m, "pw")] as const),
      ),
    ) as Record<ScramMechanism, ScramCredential>;
    fc.assert(
      fc.property(
        fc.constantFrom(...SCRAM_MECHANISMS),
        anyMessage,
        anyMessage,
        fc.boolean(),
        (mechanism, firstMessage, finalMessage, validFirst) => {
          const lookup: ScramLookup = (name) => (name === "u" ? credentials[mechanism] : undefined);
          const exchange = new ScramServerExchange(mechanism, lookup, { nonce: "S" });
          const first = validFirst ? Buffer.from("n,,n=u,r=abc") : firstMessage;
          noThrow(() => exchange.clientFirst(first));
          noThrow(() => exchange.clientFinal(finalMessage));
          noThrow(() => exchange.clientFinal(finalMessage));
        },
      ),
      { seed: SEED, numRuns: 2000 },
    );
  });
});

/**
 * scrypt password hashes: the encoded form round-trips, wrong and malformed inputs are refused
 * without throwing, and every hash has its own salt.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  encodePasswordHash,
  hashPassword,
  parsePasswordHash,
  SCRYPT_HASH_BYTES,
  SCRYPT_PARAMS,
  SCRYPT_SALT_BYTES,
  scryptDerive,
  verifyPassword,
} from "../../../src/security/passwords.ts";

describe("passwords", () => {
  test("a hash verifies its password, as a string or as bytes", async () => {
    const encoded = await hashPassword("correct horse");
    assert.match(encoded, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    const parts = parsePasswordHash(encoded);
    assert.ok(parts !== null);
    assert.deepEqual(parts.params, { ...SCRYPT_PARAMS });
    assert.equal(parts.salt.length, SCRYPT_SALT_BYTES);
    assert.equal(parts.hash.length, SCRYPT_HASH_BYTES);
    assert.equal(await verifyPassword("correct horse", encoded), true);
    assert.equal(await verifyPassword(Buffer.from("correct horse"), encoded), true);
  });

  test("a wrong password does not verify", async () => {
    const encoded = await hashPassword(Buffer.from([0, 1, 2, 255]));
    assert.equal(await verifyPassword(Buffer.from([0, 1, 2, 254]), encoded), false);
    assert.equal(await verifyPassword("", encoded), false);
    assert.equal(await verifyPassword(Buffer.from([0, 1, 2, 255]), encoded), true);
  });

  test("the same password hashes differently each time (random salt)", async () => {
    const [a, b] = await Promise.all([hashPassword("pw"), hashPassword("pw")]);
    assert.notEqual(a, b);
    assert.notDeepEqual(parsePasswordHash(a)?.salt, parsePasswordHash(b)?.salt);
    assert.equal(await verifyPassword("pw", a), true);
    assert.equal(await verifyPassword("pw", b), true);
  });

  test("malformed or out-of-limits encodings verify nothing and do not throw", async () => {
    const good = await hashPassword("pw");
    const [, , , , salt, hash] = good.split("$");
    const bad = [
      "",
      "pw",
      "scrypt",
      `bcrypt$16384$8$1$${salt}$${hash}`,
      `scrypt$16384$8$1$${salt}`,
      `scrypt$16384$8$1$${salt}$${hash}$extra`,
      `scrypt$16383$8$1$${salt}$${hash}`, // N not a power of two
      `scrypt$1$8$1$${salt}$${hash}`, // N too small
      `scrypt$1048576$8$1$${salt}$${hash}`, // N too large (1 GiB of memory)
      `scrypt$16384$0$1$${salt}$${hash}`,
      `scrypt$16384$8$99$${salt}$${hash}`,
      `scrypt$016384$8$1$${salt}$${hash}`,
      `scrypt$-16384$8$1$${salt}$${hash}`,
      `scrypt$16384$8$1.0$${salt}$${hash}`,
      `scrypt$16384$8$1$$${hash}`, // empty salt
      `scrypt$16384$8$1$${salt}$`, // empty hash
      `scrypt$16384$8$1$${salt}$AAAA`, // hash too short
      `scrypt$16384$8$1$${salt}$${hash.slice(1)}`, // not canonical base64
      `scrypt$16384$8$1$${salt}$${hash}\n`,
      `scrypt$16384$8$1$${salt}!$${hash}`,
    ];
    for (const encoded of bad) {
      assert.equal(parsePasswordHash(encoded), null, encoded);
      assert.equal(await verifyPassword("pw", encoded), false, encoded);
    }
  });

  test("other parameters in a stored hash are honoured (cheap N for the test)", async () => {
    const salt = Buffer.alloc(16, 7);
    const params = { N: 1024, r: 8, p: 1 };
    const hash = await scryptDerive("pw", salt, params, 32);
    const encoded = encodePasswordHash({ params, salt, hash });
    assert.match(encoded, /^scrypt\$1024\$8\$1\$/);
    assert.deepEqual(parsePasswordHash(encoded), { params, salt, hash });
    assert.equal(await verifyPassword("pw", encoded), true);
    assert.equal(await verifyPassword("pW", encoded), false);
  });
});

/**
 * Built-in users over a real LMDB store in a temporary directory: management, persistence
 * across a reopen, the authentication rules, the verified-login cache and its invalidation,
 * the bounded scrypt queue, and the SCRAM credentials kept beside the password hash.
 */
import assert from "node:assert/strict";
import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { RobustMQError } from "../../../src/errors.ts";
import { BuiltInUsers, SERVER_BUSY_REASON } from "../../../src/security/authn/built-in.ts";
import { hashPassword } from "../../../src/security/passwords.ts";
import {
  isScramCredential,
  SCRAM_INVALID_CREDENTIALS,
  SCRAM_MECHANISMS,
  type ScramMechanism,
  ScramServerExchange,
} from "../../../src/security/scram.ts";
import { SecurityStore, type StoredUser } from "../../../src/security/store.ts";
import type { AuthnResult, Credentials } from "../../../src/security/types.ts";

const root = mkdtempSync(join(tmpdir(), "rmq-built-in-"));
after(() => rmSync(root, { recursive: true, force: true }));
let dirCount = 0;

function freshDir(): string {
  dirCount += 1;
  return join(root, `d${dirCount}`);
}

function login(username: string | undefined, password?: string): Credentials {
  return {
    clientId: "c1",
    username,
    password: password === undefined ? undefined : Buffer.from(password),
    ip: "127.0.0.1",
    certificateUsername: undefined,
  };
}

function withCode(code: string) {
  return (err: unknown) => err instanceof RobustMQError && err.code === code;
}

const ALLOW: AuthnResult = { result: "allow", superuser: false };

/**
 * One SCRAM login against `users` (RFC 5802's client side, done here by hand): the user name
 * on success, the server's reason on failure.
 */
function scramLogin(
  users: BuiltInUsers,
  mechanism: ScramMechanism,
  username: string,
  password: string,
): string {
  const algorithm = mechanism === "SCRAM-SHA-256" ? "sha256" : "sha512";
  const exchange = new ScramServerExchange(mechanism, (name) =>
    users.scramCredential(name, mechanism),
  );
  const bare = `n=${username},r=clientnonce`;
  const first = exchange.clientFirst(Buffer.from(`n,,${bare}`));
  assert.ok(first.ok, "the server answers the first message, known user or not");
  const serverFirst = first.serverFirst.toString();
  const [nonce, salt, iterations] = serverFirst.split(",").map((field) => field.slice(2));
  const keyBytes = mechanism === "SCRAM-SHA-256" ? 32 : 64;
  const salted = pbkdf2Sync(
    password,
    Buffer.from(salt, "base64"),
    Number(iterations),
    keyBytes,
    algorithm,
  );
  const clientKey = createHmac(algorithm, salted).update("Client Key").digest();
  const storedKey = createHash(algorithm).update(clientKey).digest();
  const withoutProof = `c=biws,r=${nonce}`;
  const authMessage = `${bare},${serverFirst},${withoutProof}`;
  const signature = createHmac(algorithm, storedKey).update(authMessage).digest();
  const proof = Buffer.from(clientKey.map((byte, i) => byte ^ signature[i])).toString("base64");
  const final = exchange.clientFinal(Buffer.from(`${withoutProof},p=${proof}`));
  return final.ok ? final.username : final.reason;
}

describe("BuiltInUsers management", () => {
  test("add, get, list, update, delete, and all of it survives a reopen", async () => {
    const dir = freshDir();
    let store = SecurityStore.open(dir);
    let users = BuiltInUsers.load(store.users);
    assert.equal(users.count, 0);
    const before = Date.now();
    const bob = await users.add("bob", "pw-bob", false);
    const alice = await users.add("alice", "pw-alice", true);
    assert.deepEqual(Object.keys(bob).sort(), ["createdAtMs", "superuser", "username"]);
    assert.ok(alice.createdAtMs >= before && alice.createdAtMs <= Date.now());
    assert.deepEqual(
      users.list().map((u) => [u.username, u.superuser]),
      [
        ["alice", true],
        ["bob", false],
      ],
    );
    assert.equal(users.get("nobody"), undefined);
    const updated = await users.update("bob", { superuser: true });
    assert.deepEqual(updated, { ...bob, superuser: true });
    assert.equal(await users.delete("alice"), true);
    assert.equal(await users.delete("alice"), false);
    assert.equal(users.count, 1);
    await store.close();

    store = SecurityStore.open(dir);
    users = BuiltInUsers.load(store.users);
    try {
      assert.deepEqual(users.list(), [{ ...bob, superuser: true }]);
      const stored = store.users.get("bob");
      assert.match(stored?.passwordHash ?? "", /^scrypt\$/);
      assert.deepEqual(await users.authenticate(login("bob", "pw-bob")), {
        result: "allow",
        superuser: true,
      });
    } finally {
      await store.close();
    }
  });

  test("bad names and passwords, duplicates and unknown users are refused", async () => {
    const store = SecurityStore.open(freshDir());
    try {
      const users = BuiltInUsers.load(store.users);
      const invalid = withCode("RMQ_ERR_ADMIN_INVALID_REQUEST");
      await assert.rejects(users.add("", "pw", false), invalid);
      await assert.rejects(users.add("u", "", false), invalid);
      await assert.rejects(users.add("é".repeat(32_768), "pw", false), invalid); // 65536 bytes
      await assert.rejects(users.add("u", "x".repeat(65_536), false), invalid);
      await users.add("u", "pw", false);
      await assert.rejects(users.add("u", "other", true), invalid);
      await assert.rejects(users.update("u", { password: "" }), invalid);
      await assert.rejects(
        users.update("v", { superuser: true }),
        withCode("RMQ_ERR_ADMIN_NOT_FOUND"),
      );
      // Two adds of one name racing: exactly one wins.
      const race = await Promise.allSettled([
        users.add("w", "a", false),
        users.add("w", "b", false),
      ]);
      assert.deepEqual(race.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
      assert.equal(users.count, 2);
      assert.equal(store.users.getKeysCount(), 2);
    } finally {
      await store.close();
    }
  });

  test("a damaged record stops the load with RMQ_ERR_STORAGE_CORRUPT", async () => {
    const store = SecurityStore.open(freshDir());
    try {
      const record = { username: "x", superuser: false, createdAtMs: 1, passwordHash: "plain" };
      await store.users.put("x", record);
      assert.throws(() => BuiltInUsers.load(store.users), withCode("RMQ_ERR_STORAGE_CORRUPT"));
    } finally {
      await store.close();
    }
  });

  test("a record with malformed SCRAM credentials stops the load too", async () => {
    const passwordHash = await hashPassword("pw");
    const good = { salt: "AAAA", iterations: 4096, storedKey: "", serverKey: "" };
    const key = Buffer.alloc(32).toString("base64");
    const valid = { ...good, storedKey: key, serverKey: key };
    const damaged: unknown[] = [
      null,
      [],
      { "SCRAM-SHA-256": good },
      { "SCRAM-SHA-256": { ...valid, iterations: 10 } },
      { "SCRAM-SHA-512": valid }, // 32-byte keys under the 64-byte mechanism
      { "SCRAM-SHA-1": valid },
    ];
    for (const scram of damaged) {
      const store = SecurityStore.open(freshDir());
      try {
        const record = { username: "x", superuser: false, createdAtMs: 1, passwordHash, scram };
        await store.users.put("x", record as unknown as StoredUser);
        assert.throws(
          () => BuiltInUsers.load(store.users),
          withCode("RMQ_ERR_STORAGE_CORRUPT"),
          JSON.stringify(scram),
        );
      } finally {
        await store.close();
      }
    }
    const store = SecurityStore.open(freshDir());
    try {
      await store.users.put("x", {
        username: "x",
        superuser: false,
        createdAtMs: 1,
        passwordHash,
        scram: { "SCRAM-SHA-256": valid },
      });
      assert.equal(
        BuiltInUsers.load(store.users).scramCredential("x", "SCRAM-SHA-256")?.salt,
        "AAAA",
      );
    } finally {
      await store.close();
    }
  });
});

describe("BuiltInUsers.authenticate", () => {
  test("ignore: no name or a stranger; deny: no password or a wrong one", async () => {
    const store = SecurityStore.open(freshDir());
    try {
      const users = BuiltInUsers.load(store.users);
      await users.add("root", "secret", true);
      assert.equal((await users.authenticate(login(undefined, "secret"))).result, "ignore");
      assert.equal((await users.authenticate(login("stranger", "secret"))).result, "ignore");
      assert.deepEqual(await users.authenticate(login("root")), {
        result: "deny",
        reason: "no password",
      });
      assert.deepEqual(await users.authenticate(login("root", "Secret")), {
        result: "deny",
        reason: "wrong password",
      });
      assert.deepEqual(await users.authenticate(login("root", "secret")), {
        result: "allow",
        superuser: true,
      });
    } finally {
      await store.close();
    }
  });

  test("a remembered login never outlives a password change or a delete", async () => {
    const store = SecurityStore.open(freshDir());
    try {
      // One check slot and no queue: a login that needs scrypt while the slot is taken is
      // refused as busy, so one that succeeds then must have come from the cache.
      const users = BuiltInUsers.load(store.users, { checksInFlightMax: 1, checkQueueMax: 0 });
      await users.add("u", "old", false);
      assert.deepEqual(await users.authenticate(login("u", "old")), ALLOW);
      assert.equal(users.cachedVerificationCount, 1);
      const blocker = users.authenticate(login("u", "wrong"));
      assert.deepEqual(await users.authenticate(login("u", "old")), ALLOW);
      assert.deepEqual(await users.authenticate(login("u", "other")), {
        result: "deny",
        reason: SERVER_BUSY_REASON,
      });
      assert.deepEqual(await blocker, { result: "deny", reason: "wrong password" });

      await users.update("u", { password: "new" });
      assert.equal(users.cachedVerificationCount, 0);
      assert.equal((await users.authenticate(login("u", "old"))).result, "deny");
      assert.deepEqual(await users.authenticate(login("u", "new")), ALLOW);
      assert.equal(users.cachedVerificationCount, 1);

      await users.delete("u");
      assert.equal(users.cachedVerificationCount, 0);
      assert.equal((await users.authenticate(login("u", "new"))).result, "ignore");
      // Re-added with the same password: a new salt, so a fresh scrypt check, still correct.
      await users.add("u", "new", true);
      assert.deepEqual(await users.authenticate(login("u", "new")), {
        result: "allow",
        superuser: true,
      });
    } finally {
      await store.close();
    }
  });

  test("a check finishing after a password change answers for the new password", async () => {
    const store = SecurityStore.open(freshDir());
    try {
      const users = BuiltInUsers.load(store.users, { checksInFlightMax: 1 });
      await users.add("u", "old", false);
      let updated = false;
      const track = (password: string) =>
        users.authenticate(login("u", password)).then((result) => ({ result, early: !updated }));
      // One slot: the first check may be mid-scrypt when the change lands; the last one waits
      // behind four scrypt runs, so it starts (and ends) well after the change.
      const checks = [track("old"), track("wrong"), track("wrong"), track("wrong"), track("old")];
      await users.update("u", { password: "new" });
      updated = true;
      const outcomes = await Promise.all(checks);
      assert.equal(outcomes.at(-1)?.early, false, "the queued check ended after the change");
      for (const { result, early } of outcomes) {
        if (!early) assert.equal(result.result, "deny");
      }
      assert.equal((await users.authenticate(login("u", "old"))).result, "deny");
      assert.equal(users.cachedVerificationCount, 0);
    } finally {
      await store.close();
    }
  });

  test("many parallel checks all complete correctly through the bounded queue", async () => {
    const store = SecurityStore.open(freshDir());
    try {
      const users = BuiltInUsers.load(store.users, { cacheEntriesMax: 0 });
      await Promise.all([users.add("a", "pa", false), users.add("b", "pb", true)]);
      const cases = Array.from({ length: 24 }, (_, i) => {
        const name = i % 2 === 0 ? "a" : "b";
        const right = i % 3 !== 0;
        return { name, password: right ? `p${name}` : "nope", right };
      });
      const pending = cases.map((c) => users.authenticate(login(c.name, c.password)));
      assert.equal(users.pendingCheckCount, cases.length);
      const results = await Promise.all(pending);
      results.forEach((result, i) => {
        const c = cases[i];
        if (c.right) assert.deepEqual(result, { result: "allow", superuser: c.name === "b" });
        else assert.deepEqual(result, { result: "deny", reason: "wrong password" });
      });
      assert.equal(users.pendingCheckCount, 0);
      assert.equal(users.cachedVerificationCount, 0, "cache off");
    } finally {
      await store.close();
    }
  });

  test("beyond the wait queue a check is denied as server busy", async () => {
    const store = SecurityStore.open(freshDir());
    try {
      const users = BuiltInUsers.load(store.users, { checksInFlightMax: 1, checkQueueMax: 2 });
      await users.add("a", "pa", false);
      const results = await Promise.all(
        Array.from({ length: 5 }, () => users.authenticate(login("a", "wrong"))),
      );
      const busy = { result: "deny", reason: SERVER_BUSY_REASON };
      const wrong = { result: "deny", reason: "wrong password" };
      assert.deepEqual(results, [wrong, wrong, wrong, busy, busy]);
      assert.equal(users.pendingCheckCount, 0);
      assert.deepEqual(await users.authenticate(login("a", "pa")), ALLOW);
    } finally {
      await store.close();
    }
  });
});

describe("BuiltInUsers SCRAM credentials", () => {
  test("a new user has both credentials, and SCRAM logins work with the password", async () => {
    const dir = freshDir();
    let store = SecurityStore.open(dir);
    try {
      const users = BuiltInUsers.load(store.users);
      await users.add("carol", "pw-carol", false);
      for (const mechanism of SCRAM_MECHANISMS) {
        assert.ok(isScramCredential(users.scramCredential("carol", mechanism), mechanism));
        assert.equal(scramLogin(users, mechanism, "carol", "pw-carol"), "carol");
        assert.equal(scramLogin(users, mechanism, "carol", "pw-Carol"), SCRAM_INVALID_CREDENTIALS);
        assert.equal(users.scramCredential("nobody", mechanism), undefined);
        assert.equal(scramLogin(users, mechanism, "nobody", "pw"), SCRAM_INVALID_CREDENTIALS);
      }
      const a = users.scramCredential("carol", "SCRAM-SHA-256");
      assert.notEqual(a?.salt, users.scramCredential("carol", "SCRAM-SHA-512")?.salt);
      // Credentials never leave through the views.
      assert.deepEqual(Object.keys(users.get("carol") ?? {}).sort(), [
        "createdAtMs",
        "superuser",
        "username",
      ]);
      assert.ok(!JSON.stringify(users.list()).includes(a?.storedKey ?? "?"));
      // A superuser-only change keeps the credentials as they were.
      await users.update("carol", { superuser: true });
      assert.deepEqual(users.scramCredential("carol", "SCRAM-SHA-256"), a);
      await store.close();

      store = SecurityStore.open(dir);
      const reopened = BuiltInUsers.load(store.users);
      assert.deepEqual(reopened.scramCredential("carol", "SCRAM-SHA-256"), a);
      assert.equal(scramLogin(reopened, "SCRAM-SHA-512", "carol", "pw-carol"), "carol");
    } finally {
      await store.close();
    }
  });

  test("after a password change the old password fails and the new one works", async () => {
    const store = SecurityStore.open(freshDir());
    try {
      const users = BuiltInUsers.load(store.users);
      await users.add("dave", "old", false);
      const before = users.scramCredential("dave", "SCRAM-SHA-256");
      await users.update("dave", { password: "new" });
      assert.notDeepEqual(users.scramCredential("dave", "SCRAM-SHA-256"), before);
      for (const mechanism of SCRAM_MECHANISMS) {
        assert.equal(scramLogin(users, mechanism, "dave", "old"), SCRAM_INVALID_CREDENTIALS);
        assert.equal(scramLogin(users, mechanism, "dave", "new"), "dave");
      }
      assert.ok(isScramCredential(store.users.get("dave")?.scram?.["SCRAM-SHA-512"]));
    } finally {
      await store.close();
    }
  });

  test("a record from before SCRAM loads, has no credential, and gains one with a new password", async () => {
    const store = SecurityStore.open(freshDir());
    try {
      const passwordHash = await hashPassword("pw");
      await store.users.put("eve", {
        username: "eve",
        superuser: false,
        createdAtMs: 1,
        passwordHash,
      });
      const users = BuiltInUsers.load(store.users);
      for (const mechanism of SCRAM_MECHANISMS) {
        assert.equal(users.scramCredential("eve", mechanism), undefined);
        assert.equal(scramLogin(users, mechanism, "eve", "pw"), SCRAM_INVALID_CREDENTIALS);
      }
      assert.deepEqual(await users.authenticate(login("eve", "pw")), ALLOW);
      await users.update("eve", { superuser: true });
      assert.equal("scram" in (store.users.get("eve") ?? {}), false, "still no scram key");
      await users.update("eve", { password: "pw" });
      assert.equal(scramLogin(users, "SCRAM-SHA-256", "eve", "pw"), "eve");
    } finally {
      await store.close();
    }
  });
});

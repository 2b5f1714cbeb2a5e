/**
 * Built-in users over a real LMDB store in a temporary directory: management, persistence
 * across a reopen, the authentication rules, the verified-login cache and its invalidation,
 * and the bounded scrypt queue.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { RobustMQError } from "../../../src/errors.ts";
import { BuiltInUsers, SERVER_BUSY_REASON } from "../../../src/security/authn/built-in.ts";
import { SecurityStore } from "../../../src/security/store.ts";
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

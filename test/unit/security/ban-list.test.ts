import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ErrorCode, RobustMQError } from "../../../src/errors.ts";
import {
  BanList,
  banCovers,
  canonicalIp,
  normalizeBanValue,
} from "../../../src/security/banned/ban-list.ts";
import { SecurityStore } from "../../../src/security/store.ts";
import type { Ban, BanKind } from "../../../src/security/types.ts";

const NOW_MS = 1_700_000_000_000;

function ban(kind: BanKind, value: string, untilMs = 0, reason = "test"): Ban {
  return { kind, value, reason, createdAtMs: NOW_MS, untilMs };
}

function client(clientId: string, username?: string, ip = "192.0.2.1") {
  return { clientId, username, ip };
}

let root = "";
let dirs = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "ban-list-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

function fixture() {
  const dir = join(root, `d${dirs++}`);
  return async <T>(
    body: (bans: BanList, store: SecurityStore) => Promise<T>,
    nowMs = NOW_MS,
  ): Promise<T> => {
    const store = SecurityStore.open(dir);
    try {
      return await body(BanList.load(store.bans, nowMs), store);
    } finally {
      await store.close();
    }
  };
}

describe("BanList", () => {
  it("matches by client id, user name, ip address and CIDR block", async () => {
    await fixture()(async (bans) => {
      await bans.add(ban("client_id", "bad-client"));
      await bans.add(ban("username", "mallory"));
      await bans.add(ban("ip", "203.0.113.9"));
      await bans.add(ban("ip", "10.0.0.0/8"));
      await bans.add(ban("ip", "2001:db8::/32"));
      await bans.add(ban("ip", "0:0::1"));
      const match = (who: ReturnType<typeof client>) => bans.match(who, NOW_MS)?.value ?? null;
      assert.equal(match(client("bad-client")), "bad-client");
      assert.equal(match(client("ok", "mallory")), "mallory");
      assert.equal(match(client("ok", "alice")), null);
      assert.equal(match(client("ok", undefined)), null);
      assert.equal(match(client("ok", "alice", "203.0.113.9")), "203.0.113.9");
      assert.equal(match(client("ok", "alice", "::ffff:203.0.113.9")), "203.0.113.9");
      assert.equal(match(client("ok", "alice", "10.200.0.1")), "10.0.0.0/8");
      assert.equal(match(client("ok", "alice", "::ffff:10.0.0.1")), "10.0.0.0/8");
      assert.equal(match(client("ok", "alice", "11.0.0.1")), null);
      assert.equal(match(client("ok", "alice", "2001:db8:1::5")), "2001:db8::/32");
      assert.equal(match(client("ok", "alice", "::1")), "::1", "stored in canonical form");
      assert.equal(match(client("ok", "alice", "")), null);
      assert.equal(match(client("ok", "alice", "not-an-ip")), null);
      assert.equal(match(client("bad-client", "mallory", "10.0.0.1"))?.valueOf(), "bad-client");
    });
  });

  it("validates bans", async () => {
    await fixture()(async (bans) => {
      const invalid = [
        ban("ip", "10.0.0.0/33"),
        ban("ip", "example.com"),
        ban("ip", ""),
        ban("client_id", ""),
        ban("username", ""),
        { ...ban("client_id", "x"), kind: "nope" as BanKind },
        ban("client_id", "x", -1),
        { ...ban("client_id", "x"), createdAtMs: 1.5 },
      ];
      for (const bad of invalid) {
        await assert.rejects(
          bans.add(bad),
          (err) => err instanceof RobustMQError && err.code === ErrorCode.ADMIN_INVALID_REQUEST,
          JSON.stringify(bad),
        );
      }
      assert.equal(bans.list(NOW_MS).length, 0);
    });
  });

  it("replaces a ban of the same kind and value, persists, and deletes", async () => {
    const run = fixture();
    await run(async (bans) => {
      await bans.add(ban("client_id", "c1", 0, "first"));
      await bans.add(ban("client_id", "c1", 0, "second"));
      await bans.add(ban("ip", "::ffff:198.51.100.7"));
      await bans.add(ban("ip", "fd00:0::/8"));
      assert.deepEqual(
        bans.list(NOW_MS).map((b) => [b.kind, b.value, b.reason]),
        [
          ["client_id", "c1", "second"],
          ["ip", "198.51.100.7", "test"],
          ["ip", "fd00::/8", "test"],
        ],
      );
    });
    await run(async (bans, store) => {
      assert.equal(bans.list(NOW_MS).length, 3);
      assert.equal(store.bans.get("ip\u0000198.51.100.7")?.value, "198.51.100.7");
      assert.equal(bans.match(client("x", undefined, "fd12::1"), NOW_MS)?.value, "fd00::/8");
      assert.equal(await bans.delete("ip", "::ffff:198.51.100.7"), true, "same canonical key");
      assert.equal(await bans.delete("ip", "fd00::/8"), true);
      assert.equal(await bans.delete("ip", "fd00::/8"), false);
      assert.equal(await bans.delete("username", "nobody"), false);
      assert.equal(
        bans.match(client("x", undefined, "fd12::1"), NOW_MS),
        null,
        "CIDR union rebuilt",
      );
      assert.equal(bans.match(client("x", undefined, "198.51.100.7"), NOW_MS), null);
    });
    await run(async (bans) => {
      assert.deepEqual(
        bans.list(NOW_MS).map((b) => b.value),
        ["c1"],
      );
    });
  });

  it("never matches or lists a lapsed ban, and purges lapsed bans from the store", async () => {
    const run = fixture();
    await run(async (bans) => {
      await bans.add(ban("client_id", "short", NOW_MS + 1000));
      await bans.add(ban("username", "long", NOW_MS + 60_000));
      await bans.add(ban("ip", "10.0.0.0/8", NOW_MS + 1000));
      await bans.add(ban("ip", "10.1.0.0/16", NOW_MS + 60_000));
      await bans.add(ban("client_id", "forever", 0));
      const later = NOW_MS + 1000; // untilMs is the first moment the ban no longer holds
      assert.equal(bans.match(client("short"), NOW_MS + 999)?.value, "short");
      assert.equal(bans.match(client("short"), later), null);
      assert.equal(bans.match(client("x", "long"), later)?.value, "long");
      assert.equal(bans.match(client("x", undefined, "10.2.0.1"), later), null);
      assert.equal(bans.match(client("x", undefined, "10.1.0.1"), later)?.value, "10.1.0.0/16");
      assert.equal(bans.match(client("forever"), Number.MAX_SAFE_INTEGER)?.value, "forever");
      assert.deepEqual(
        bans
          .list(later)
          .map((b) => b.value)
          .sort(),
        ["10.1.0.0/16", "forever", "long"],
      );
      assert.equal(await bans.purgeExpired(later), 2);
      assert.equal(bans.size, 3);
      assert.equal(bans.match(client("x", undefined, "10.1.0.1"), later)?.value, "10.1.0.0/16");
    });
    // Lapsed bans are not loaded; a purge still removes them from the store.
    await run(async (bans, store) => {
      assert.equal(bans.size, 1, "only the forever ban is live at this time");
      assert.equal(await bans.purgeExpired(NOW_MS + 120_000), 2);
      assert.equal(store.bans.getKeysCount(), 1);
    }, NOW_MS + 120_000);
  });

  it("a purge spares a ban renewed after it lapsed", async () => {
    await fixture()(async (bans) => {
      await bans.add(ban("client_id", "c", NOW_MS + 10));
      await bans.add(ban("client_id", "c", NOW_MS + 60_000));
      assert.equal(await bans.purgeExpired(NOW_MS + 20), 0);
      assert.equal(bans.match(client("c"), NOW_MS + 20)?.untilMs, NOW_MS + 60_000);
    });
  });

  it("tells whether a ban covers a live client", () => {
    assert.ok(banCovers(ban("client_id", "c"), client("c")));
    assert.ok(!banCovers(ban("client_id", "c"), client("d", "c")));
    assert.ok(banCovers(ban("username", "u"), client("c", "u")));
    assert.ok(!banCovers(ban("username", "u"), client("c", undefined)));
    assert.ok(banCovers(ban("ip", "10.0.0.0/8"), client("c", undefined, "::ffff:10.9.0.1")));
    assert.ok(banCovers(ban("ip", "::ffff:10.0.0.1"), client("c", undefined, "10.0.0.1")));
    assert.ok(banCovers(ban("ip", "2001:db8::/32"), client("c", undefined, "2001:DB8::9")));
    assert.ok(!banCovers(ban("ip", "10.0.0.0/8"), client("c", undefined, "11.0.0.1")));
    assert.ok(!banCovers(ban("ip", "10.0.0.0/8"), client("c", undefined, "")));
  });

  it("spells addresses one way", () => {
    assert.equal(canonicalIp("10.0.0.1"), "10.0.0.1");
    assert.equal(canonicalIp("::FFFF:10.0.0.1"), "10.0.0.1");
    assert.equal(canonicalIp("::ffff:a00:1"), "10.0.0.1");
    assert.equal(canonicalIp("0:0:0::1"), "::1");
    assert.equal(canonicalIp("2001:DB8::1"), "2001:db8::1");
    assert.equal(canonicalIp("nope"), null);
    assert.equal(normalizeBanValue("ip", "::FFFF:10.0.0.1"), "10.0.0.1");
    assert.equal(normalizeBanValue("ip", "2001:DB8:0::/32"), "2001:db8::/32");
    assert.equal(normalizeBanValue("ip", "10.0.0.0/8"), "10.0.0.0/8");
    assert.equal(normalizeBanValue("username", "::FFFF:10.0.0.1"), "::FFFF:10.0.0.1");
  });
});

import assert from "node:assert/strict";
import { BlockList, isIP } from "node:net";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Acl, type AclNoMatch } from "../../../src/security/acl/acl.ts";
import {
  filterCovers,
  filterMatchesTopic,
  filtersOverlap,
} from "../../../src/security/acl/topic-cover.ts";
import { isSafePlaceholderValue } from "../../../src/security/topic-template.ts";
import type { AclRule, AclRuleSpec, Principal } from "../../../src/security/types.ts";

function rules(...specs: AclRuleSpec[]): AclRule[] {
  return specs.map((spec, i) => ({ ...spec, id: `r${i + 1}`, source: "config" }));
}

function aclOf(noMatch: AclNoMatch, ...specs: AclRuleSpec[]): Acl {
  const acl = new Acl(noMatch);
  acl.setRules(rules(...specs));
  return acl;
}

function who(fields: Partial<Principal> = {}): Principal {
  return { clientId: "c1", username: "alice", ip: "127.0.0.1", superuser: false, ...fields };
}

const ipLists = new Map<string, BlockList>();
function ipMatches(rule: string, ip: string): boolean {
  let list = ipLists.get(rule);
  if (list === undefined) {
    list = new BlockList();
    const [address, bits] = rule.split("/");
    const family = isIP(address) === 6 ? "ipv6" : "ipv4";
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
    ipLists.set(rule, list);
  }
  return list.check(ip, isIP(ip) === 6 ? "ipv6" : "ipv4");
}

/**
 * The rules read plainly: keep the rules whose criteria name this principal, fill in the
 * placeholders by string replacement, then scan linearly. No index, no compilation.
 */
function referenceFor(
  list: readonly AclRule[],
  noMatch: AclNoMatch,
  p: Principal,
): (action: "publish" | "subscribe", text: string) => boolean {
  const mine = list
    .filter((r) => r.username === undefined || r.username === p.username)
    .filter((r) => r.client_id === undefined || r.client_id === p.clientId)
    .filter((r) => r.ip === undefined || ipMatches(r.ip, p.ip))
    .map((r) => {
      let unsafe = false;
      const filter = r.topic.replace(/%[uc]/g, (m) => {
        const value = m === "%u" ? p.username : p.clientId;
        if (value === undefined || value === "" || /[+#/\0]/.test(value)) unsafe = true;
        return value ?? "";
      });
      return { rule: r, filter, unsafe };
    });
  return (action, text) => {
    if (action === "publish" && text.startsWith("$SYS")) return false;
    if (p.superuser) return true;
    for (const { rule: r, filter, unsafe } of mine) {
      if (r.action !== "all" && r.action !== action) continue;
      if (unsafe) {
        if (r.permission === "deny") return false;
        continue;
      }
      let applies: boolean;
      if (action === "publish") applies = filterMatchesTopic(filter, text);
      else if (r.permission === "allow") applies = filterCovers(filter, text);
      else applies = filtersOverlap(filter, text);
      if (applies) return r.permission === "allow";
    }
    return noMatch === "allow";
  };
}

describe("Acl basics", () => {
  it("falls back to noMatch both ways", () => {
    for (const noMatch of ["allow", "deny"] as const) {
      const acl = aclOf(noMatch, { permission: "allow", action: "publish", topic: "only/this" });
      assert.equal(acl.authorizePublish(who(), "other"), noMatch === "allow");
      assert.equal(acl.authorizeSubscribe(who(), "other/#"), noMatch === "allow");
      assert.equal(acl.authorizePublish(who(), "only/this"), true);
    }
  });

  it("lets the first matching rule decide", () => {
    const denyFirst = aclOf(
      "deny",
      { permission: "deny", action: "publish", topic: "a/b" },
      { permission: "allow", action: "publish", topic: "a/#" },
    );
    assert.equal(denyFirst.authorizePublish(who(), "a/b"), false);
    assert.equal(denyFirst.authorizePublish(who(), "a/c"), true);
    const allowFirst = aclOf(
      "deny",
      { permission: "allow", action: "publish", topic: "a/#" },
      { permission: "deny", action: "publish", topic: "a/b" },
    );
    assert.equal(allowFirst.authorizePublish(who(), "a/b"), true);
  });

  it("keeps first-match order across user, client and anyone buckets", () => {
    const acl = aclOf(
      "allow",
      { permission: "deny", action: "all", topic: "x/#" },
      { permission: "allow", action: "all", topic: "x/#", username: "alice" },
      { permission: "allow", action: "all", topic: "y/#", client_id: "c1" },
      { permission: "deny", action: "all", topic: "y/#", username: "alice" },
    );
    assert.equal(acl.authorizePublish(who(), "x/1"), false, "generic deny comes first");
    assert.equal(acl.authorizePublish(who(), "y/1"), true, "client rule precedes user rule");
    assert.equal(acl.authorizePublish(who({ clientId: "c2" }), "y/1"), false);
  });

  it("matches actions: all covers both, publish and subscribe only themselves", () => {
    const acl = aclOf(
      "deny",
      { permission: "allow", action: "publish", topic: "p" },
      { permission: "allow", action: "subscribe", topic: "s" },
      { permission: "allow", action: "all", topic: "b" },
    );
    assert.equal(acl.authorizePublish(who(), "p"), true);
    assert.equal(acl.authorizeSubscribe(who(), "p"), false);
    assert.equal(acl.authorizePublish(who(), "s"), false);
    assert.equal(acl.authorizeSubscribe(who(), "s"), true);
    assert.equal(acl.authorizePublish(who(), "b"), true);
    assert.equal(acl.authorizeSubscribe(who(), "b"), true);
  });

  it("requires every criterion of a rule: user name, client id and ip together", () => {
    const acl = aclOf("deny", {
      permission: "allow",
      action: "all",
      topic: "t",
      username: "alice",
      client_id: "c1",
      ip: "10.0.0.0/8",
    });
    assert.equal(acl.authorizePublish(who({ ip: "10.9.9.9" }), "t"), true);
    assert.equal(acl.authorizePublish(who({ ip: "10.9.9.9", clientId: "c2" }), "t"), false);
    assert.equal(acl.authorizePublish(who({ ip: "10.9.9.9", username: "bob" }), "t"), false);
    assert.equal(acl.authorizePublish(who({ ip: "10.9.9.9", username: undefined }), "t"), false);
    assert.equal(acl.authorizePublish(who({ ip: "11.0.0.1" }), "t"), false);
  });

  it("bumps the version and exposes the rules on every setRules", () => {
    const acl = new Acl("allow");
    const first = acl.version;
    const list = rules({ permission: "deny", action: "all", topic: "#" });
    acl.setRules(list);
    assert.equal(acl.version, first + 1);
    assert.deepEqual(acl.rules, list);
    acl.setRules([]);
    assert.equal(acl.version, first + 2);
    assert.equal(acl.rules.length, 0);
  });
});

describe("Acl superusers and $SYS", () => {
  it("denies publishing to $SYS even to superusers, allows everything else to them", () => {
    const acl = aclOf(
      "allow",
      { permission: "allow", action: "all", topic: "$SYS/#" },
      { permission: "deny", action: "all", topic: "#" },
    );
    const root = who({ superuser: true });
    assert.equal(acl.authorizePublish(root, "$SYS/broker/uptime"), false);
    assert.equal(acl.authorizePublish(root, "$SYS"), false);
    assert.equal(acl.authorizePublish(who(), "$SYS/x"), false, "even with an allow rule");
    assert.equal(acl.authorizeSubscribe(root, "$SYS/#"), true);
    assert.equal(acl.authorizePublish(root, "anything"), true, "superusers skip deny rules");
    assert.equal(acl.authorizeSubscribe(root, "#"), true);
    assert.equal(acl.authorizeSubscribe(who(), "$SYS/#"), true, "allowed by the first rule");
    assert.equal(acl.authorizeSubscribe(who(), "a"), false);
  });

  it("a '#' rule never reaches $-topics, as MQTT matching says", () => {
    const acl = aclOf("deny", { permission: "allow", action: "all", topic: "#" });
    assert.equal(acl.authorizeSubscribe(who(), "$SYS/#"), false);
    assert.equal(acl.authorizePublish(who(), "$other/x"), false);
    assert.equal(acl.authorizePublish(who(), "a/b"), true);
  });
});

describe("Acl subscribe: covering and overlapping", () => {
  it("denies a wildcard filter wider than the allowed subtree", () => {
    const acl = aclOf("deny", { permission: "allow", action: "subscribe", topic: "a/#" });
    assert.equal(acl.authorizeSubscribe(who(), "#"), false);
    assert.equal(acl.authorizeSubscribe(who(), "+/b"), false);
    assert.equal(acl.authorizeSubscribe(who(), "a/#"), true);
    assert.equal(acl.authorizeSubscribe(who(), "a/+/c"), true);
    assert.equal(acl.authorizeSubscribe(who(), "a"), true);
  });

  it("lets a deny rule apply to any overlapping filter", () => {
    const acl = aclOf(
      "allow",
      { permission: "deny", action: "subscribe", topic: "secret/#" },
      { permission: "allow", action: "subscribe", topic: "#" },
    );
    assert.equal(acl.authorizeSubscribe(who(), "#"), false);
    assert.equal(acl.authorizeSubscribe(who(), "+/x"), false);
    assert.equal(acl.authorizeSubscribe(who(), "secret"), false);
    assert.equal(acl.authorizeSubscribe(who(), "public/#"), true);
    assert.equal(acl.authorizeSubscribe(who(), "+"), false, "'+' matches the topic 'secret'");
    assert.equal(acl.authorizeSubscribe(who(), "+/+/+"), false);
  });
});

describe("Acl placeholders", () => {
  const own = { permission: "allow", action: "all", topic: "users/%u/#" } as const;

  it("substitutes %u and %c, also inside a level", () => {
    const acl = aclOf(
      "deny",
      own,
      { permission: "allow", action: "publish", topic: "dev-%c/up" },
      { permission: "allow", action: "publish", topic: "%u:%c" },
    );
    assert.equal(acl.authorizePublish(who(), "users/alice/x"), true);
    assert.equal(acl.authorizePublish(who(), "users/bob/x"), false);
    assert.equal(acl.authorizeSubscribe(who(), "users/alice/+"), true);
    assert.equal(acl.authorizeSubscribe(who(), "users/+/x"), false);
    assert.equal(acl.authorizePublish(who(), "dev-c1/up"), true);
    assert.equal(acl.authorizePublish(who(), "dev-c2/up"), false);
    assert.equal(acl.authorizePublish(who(), "alice:c1"), true);
  });

  it("never widens an allow rule through a name holding + # / NUL or nothing", () => {
    const acl = aclOf("deny", own);
    for (const username of ["+", "#", "a/b", "a+", "x#", "", "a\0b", undefined]) {
      const p = who({ username });
      for (const topic of ["users/bob/x", "users/a/b/x", "users/+/x", "users//x", "users/a"]) {
        assert.equal(acl.authorizePublish(p, topic), false, `${username} publishes ${topic}`);
      }
      assert.equal(acl.authorizeSubscribe(p, "users/#"), false);
      assert.equal(acl.authorizeSubscribe(p, `users/${username ?? ""}/#`), false);
    }
    const byClient = aclOf("deny", { permission: "allow", action: "all", topic: "c/%c" });
    assert.equal(byClient.authorizePublish(who({ clientId: "" }), "c/"), false);
    assert.equal(byClient.authorizeSubscribe(who({ clientId: "+" }), "c/+"), false);
  });

  it("does not expand a '%' that arrives inside a value", () => {
    const acl = aclOf("deny", { permission: "allow", action: "publish", topic: "u/%u" });
    const p = who({ username: "%c", clientId: "bob" });
    assert.equal(acl.authorizePublish(p, "u/bob"), false);
    assert.equal(acl.authorizePublish(p, "u/%c"), true);
    // A literal '%' in a rule not followed by u or c stays literal.
    const literal = aclOf("deny", { permission: "allow", action: "publish", topic: "50%/%x" });
    assert.equal(literal.authorizePublish(who(), "50%/%x"), true);
  });

  it("fails closed: an unsafe value makes a deny rule apply to everything its action covers", () => {
    const acl = aclOf(
      "allow",
      { permission: "deny", action: "publish", topic: "users/%u/secret" },
      { permission: "allow", action: "all", topic: "#" },
    );
    const bad = who({ username: "a/b" });
    assert.equal(acl.authorizePublish(bad, "unrelated/topic"), false);
    assert.equal(acl.authorizeSubscribe(bad, "unrelated/topic"), true, "publish-only rule");
    assert.equal(acl.authorizePublish(who({ username: undefined }), "x"), false);
    assert.equal(acl.authorizePublish(who(), "unrelated/topic"), true);
    assert.equal(acl.authorizePublish(who(), "users/alice/secret"), false);
  });

  it("judges placeholder values", () => {
    assert.ok(isSafePlaceholderValue("alice"));
    assert.ok(isSafePlaceholderValue("%u"));
    assert.ok(isSafePlaceholderValue("$x"));
    for (const value of ["", undefined, "+", "#", "/", "a/b", "\0"]) {
      assert.ok(!isSafePlaceholderValue(value));
    }
  });
});

describe("Acl ip criteria", () => {
  it("matches addresses and CIDR blocks, v4, v6 and v4-mapped v6", () => {
    const acl = aclOf(
      "deny",
      { permission: "allow", action: "all", topic: "v4", ip: "10.0.0.0/8" },
      { permission: "allow", action: "all", topic: "v6", ip: "fd00::/8" },
      { permission: "allow", action: "all", topic: "one", ip: "::1" },
      { permission: "allow", action: "all", topic: "host", ip: "192.168.1.7" },
    );
    const at = (ip: string) => who({ ip });
    assert.equal(acl.authorizePublish(at("10.1.2.3"), "v4"), true);
    assert.equal(acl.authorizePublish(at("::ffff:10.0.0.1"), "v4"), true);
    assert.equal(acl.authorizePublish(at("11.0.0.1"), "v4"), false);
    assert.equal(acl.authorizePublish(at("fd12:3456::1"), "v6"), true);
    assert.equal(acl.authorizePublish(at("fe80::1"), "v6"), false);
    assert.equal(acl.authorizePublish(at("0:0::1"), "one"), true);
    assert.equal(acl.authorizePublish(at("192.168.1.7"), "host"), true);
    assert.equal(acl.authorizePublish(at("::ffff:192.168.1.7"), "host"), true);
    assert.equal(acl.authorizePublish(at("192.168.1.8"), "host"), false);
    assert.equal(acl.authorizePublish(at(""), "v4"), false, "no address matches no ip rule");
    assert.equal(acl.authorizePublish(at("garbage"), "v4"), false);
  });
});

// Random rule sets over small alphabets, built to collide: names that rules mention, names
// holding every dangerous character, topics made from the same levels.
const NAMES = ["alice", "bob", "+", "#", "a/b", "%u", "%c", "", "x\0", "c%u"] as const;
const TEMPLATE_LEVELS = ["a", "alice", "+", "%u", "%c", "x%u", "$SYS", ""] as const;
const TOPIC_LEVELS = ["a", "alice", "bob", "xalice", "%u", "%c", "$SYS", "", "a", "+"] as const;
const IPS = ["10.0.0.0/8", "127.0.0.1", "::1", "fd00::/8"] as const;
const PEER_IPS = ["10.1.1.1", "::ffff:10.0.0.5", "127.0.0.1", "::1", "fd00::5", "8.8.8.8"];

const specArb: fc.Arbitrary<AclRuleSpec> = fc
  .record(
    {
      permission: fc.constantFrom("allow", "deny"),
      action: fc.constantFrom("publish", "subscribe", "all"),
      levels: fc.array(fc.constantFrom(...TEMPLATE_LEVELS), { minLength: 1, maxLength: 3 }),
      hash: fc.boolean(),
      username: fc.constantFrom("alice", "bob", "+"),
      client_id: fc.constantFrom("c1", "c2"),
      ip: fc.constantFrom(...IPS),
    },
    { requiredKeys: ["permission", "action", "levels", "hash"] },
  )
  .map(({ levels, hash, ...rest }) => ({
    ...rest,
    topic: (hash ? [...levels, "#"] : levels).join("/") || "a", // "" is no filter
  }));

const principalArb: fc.Arbitrary<Principal> = fc.record({
  clientId: fc.constantFrom("c1", "c2", ...NAMES),
  username: fc.option(fc.constantFrom(...NAMES), { nil: undefined }),
  ip: fc.constantFrom(...PEER_IPS),
  superuser: fc.nat(9).map((n) => n === 0),
});

const levelsArb = fc.array(fc.constantFrom(...TOPIC_LEVELS), { minLength: 1, maxLength: 4 });
const topicArb = levelsArb.map((levels) => levels.filter((l) => l !== "+").join("/") || "a");
const filterArb = fc
  .tuple(levelsArb, fc.boolean())
  .map(([levels, hash]) => (hash ? [...levels, "#"] : levels).join("/"));

describe("Acl against the plain reading of the rules", () => {
  it("decides exactly as a linear scan does", () => {
    fc.assert(
      fc.property(
        fc.array(specArb, { maxLength: 12 }),
        fc.constantFrom("allow", "deny"),
        principalArb,
        fc.array(fc.tuple(topicArb, filterArb), { minLength: 1, maxLength: 8 }),
        (specs, noMatch: AclNoMatch, p, queries) => {
          const list = rules(...specs);
          const acl = new Acl(noMatch);
          acl.setRules(list);
          const reference = referenceFor(list, noMatch, p);
          for (const [topic, filter] of queries) {
            const pub = reference("publish", topic);
            assert.equal(acl.authorizePublish(p, topic), pub, `publish ${topic}`);
            const sub = reference("subscribe", filter);
            assert.equal(acl.authorizeSubscribe(p, filter), sub, `subscribe ${filter}`);
          }
        },
      ),
      { numRuns: 600 },
    );
  });

  it("allows only through a rule whose substituted values are literal and safe", () => {
    fc.assert(
      fc.property(
        fc.array(specArb, { maxLength: 12 }),
        principalArb.map((p) => ({ ...p, superuser: false })),
        fc.array(topicArb, { minLength: 1, maxLength: 8 }),
        (specs, p, topics) => {
          const acl = new Acl("deny");
          acl.setRules(rules(...specs));
          for (const topic of topics) {
            if (!acl.authorizePublish(p, topic)) continue;
            const witness = specs.some((r) => {
              if (r.permission !== "allow" || r.action === "subscribe") return false;
              if (r.username !== undefined && r.username !== p.username) return false;
              if (r.client_id !== undefined && r.client_id !== p.clientId) return false;
              if (r.ip !== undefined && !ipMatches(r.ip, p.ip)) return false;
              if (r.topic.includes("%u") && !isSafePlaceholderValue(p.username)) return false;
              if (r.topic.includes("%c") && !isSafePlaceholderValue(p.clientId)) return false;
              const literal = r.topic.replace(/%[uc]/g, (m) =>
                m === "%u" ? (p.username ?? "") : p.clientId,
              );
              return filterMatchesTopic(literal, topic);
            });
            assert.ok(witness, `allowed ${topic} for ${JSON.stringify(p)} with no safe rule`);
          }
        },
      ),
      { numRuns: 600 },
    );
  });
});

describe("Acl with 10,000 rules", () => {
  const USERS = 400;
  const list: AclRule[] = [];
  for (let i = 0; i < 10_000; i++) {
    const user = `user${Math.floor(i / 10) % USERS}`; // ten rules of each kind per user
    const kind = i % 10;
    let spec: AclRuleSpec;
    if (kind < 4) {
      spec = { permission: "allow", action: "all", topic: `dev/${user}/${i}/#`, username: user };
    } else if (kind === 4) {
      spec = { permission: "deny", action: "publish", topic: `dev/${user}/${i}`, username: user };
    } else if (kind === 5) {
      spec = { permission: "allow", action: "publish", topic: `cl/${i}`, client_id: `c${i % 50}` };
    } else if (kind === 6) {
      spec = { permission: "deny", action: "subscribe", topic: `t${i % 100}/+/x` };
    } else if (kind === 7) {
      spec = { permission: "allow", action: "all", topic: `t${i % 100}/${i}/#` };
    } else if (kind === 8) {
      spec = {
        permission: "allow",
        action: "publish",
        topic: `own/%u/${i % 30}`,
        ip: "10.0.0.0/8",
      };
    } else {
      spec = { permission: "deny", action: "all", topic: `+/${i % 70}/%c` };
    }
    list.push({ ...spec, id: `r${i}`, source: "config" });
  }
  const acl = new Acl("deny");
  acl.setRules(list);

  it("gives the same answers as the linear scan", () => {
    const principals = fc.sample(
      fc.record({
        clientId: fc.nat(60).map((n) => `c${n}`),
        username: fc.option(
          fc.nat(USERS + 20).map((n) => `user${n}`),
          { nil: undefined },
        ),
        ip: fc.constantFrom("10.2.3.4", "127.0.0.1"),
        superuser: fc.constant(false),
      }),
      { numRuns: 30, seed: 42 },
    );
    const texts = fc.sample(
      fc.tuple(
        fc.constantFrom("dev", "cl", "t1", "t7", "own", "x"),
        fc.constantFrom("user3", "user203", "c5", "1", "7", "+", "#"),
        fc.nat(10_000).map(String),
        fc.constantFrom("", "/x", "/#", "/+"),
      ),
      { numRuns: 30, seed: 7 },
    );
    let allowed = 0;
    for (const p of principals) {
      const reference = referenceFor(list, "deny", p);
      for (const [a, b, c, tail] of texts) {
        const filter = b === "#" ? `${a}/#` : `${a}/${b}/${c}${tail}`;
        const topic = filter.replaceAll("+", "p").replaceAll("#", "h");
        const pub = reference("publish", topic);
        assert.equal(acl.authorizePublish(p, topic), pub, `publish ${topic}`);
        const sub = reference("subscribe", filter);
        assert.equal(acl.authorizeSubscribe(p, filter), sub, `subscribe ${filter}`);
        if (pub) allowed++;
      }
    }
    const p = who({ username: "user3", clientId: "c9", ip: "10.0.0.1" });
    assert.equal(acl.authorizePublish(p, "dev/user3/30/a"), true);
    assert.equal(acl.authorizePublish(p, "dev/user3/34"), false, "the per-user deny rule");
    assert.equal(acl.authorizePublish(p, "own/user3/8"), true, "ip rule with %u");
    assert.equal(acl.authorizeSubscribe(p, "dev/user3/#"), false, "wider than allowed");
    assert.ok(allowed > 0, "the sample reaches allow rules too");
  });
});

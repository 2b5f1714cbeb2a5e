import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Message } from "../../../../src/broker/mqtt/message.ts";
import { type DeliverFn, Router, type SharedGroup } from "../../../../src/broker/mqtt/router.ts";
import { Session, type Subscription } from "../../../../src/broker/mqtt/session.ts";
import type { QoS } from "../../../../src/protocol/mqtt/constants.ts";

interface Call {
  session: Session;
  message: Message;
  qos: QoS;
  retain: boolean;
  subscriptionIds: number[] | null;
  share: SharedGroup | null;
}

/** A Router whose DeliverFn only records what it was asked to deliver. */
function recordingRouter(strategy: "round_robin" | "random" | "hash_clientid" = "round_robin") {
  const calls: Call[] = [];
  const deliver: DeliverFn = (session, message, qos, retain, subscriptionIds, share) => {
    calls.push({ session, message, qos, retain, subscriptionIds, share });
  };
  return { router: new Router(strategy, deliver), calls };
}

interface SubOptions {
  qos?: QoS;
  noLocal?: boolean;
  retainAsPublished?: boolean;
  subscriptionId?: number;
}

function sub(filter: string, options: SubOptions = {}): Subscription {
  return {
    filter,
    matchFilter: filter,
    shareGroup: null,
    qos: options.qos ?? 2,
    noLocal: options.noLocal ?? false,
    retainAsPublished: options.retainAsPublished ?? false,
    retainHandling: 0,
    subscriptionId: options.subscriptionId ?? 0,
    exclusive: false,
  };
}

function sharedSub(group: string, filter: string, options: SubOptions = {}): Subscription {
  return { ...sub(filter, options), filter: `$share/${group}/${filter}`, shareGroup: group };
}

function session(
  clientId: string,
  connected = true,
  expiryIntervalS = 0,
  clientMaxPacketBytes = 0,
): Session {
  const s = new Session(clientId);
  s.link = connected ? { protocolVersion: 5, clientMaxPacketBytes } : null;
  s.expiryIntervalS = expiryIntervalS;
  return s;
}

function publish(topic: string, qos: QoS = 2, retain = false, origin = "publisher"): Message {
  return new Message(topic, Buffer.from("p"), qos, retain, undefined, 0, origin);
}

function names(calls: Call[]): string[] {
  return calls.map((c) => c.session.clientId);
}

// ---- normal subscriptions ------------------------------------------------------------------

test("route: a message reaches each matching session once", () => {
  const { router, calls } = recordingRouter();
  const a = session("a");
  const b = session("b");
  const c = session("c");
  router.subscribe(a, sub("x/y"));
  router.subscribe(b, sub("x/+"));
  router.subscribe(c, sub("z/#"));
  const m = publish("x/y");
  assert.equal(router.route(m), 2);
  assert.deepEqual(names(calls).sort(), ["a", "b"]);
  for (const call of calls) {
    assert.equal(call.message, m);
    assert.equal(call.share, null);
  }
  assert.equal(router.routing, false);
});

test("route: QoS is the minimum of the message and the subscription", () => {
  for (const messageQos of [0, 1, 2] as QoS[]) {
    for (const subQos of [0, 1, 2] as QoS[]) {
      const { router, calls } = recordingRouter();
      router.subscribe(session("a"), sub("t", { qos: subQos }));
      router.route(publish("t", messageQos));
      assert.equal(calls.length, 1);
      assert.equal(calls[0].qos, Math.min(messageQos, subQos), `${messageQos} / ${subQos}`);
    }
  }
});

test("route: overlapping subscriptions of one session give one delivery, max QoS, all ids", () => {
  const { router, calls } = recordingRouter();
  const a = session("a");
  router.subscribe(a, sub("s/t", { qos: 0, subscriptionId: 1 }));
  router.subscribe(a, sub("s/+", { qos: 1, subscriptionId: 2 }));
  router.subscribe(a, sub("#", { qos: 0 }));
  router.subscribe(a, sub("s/#", { qos: 0, subscriptionId: 3 }));
  assert.equal(router.route(publish("s/t", 2)), 1);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].qos, 1);
  assert.deepEqual([...(calls[0].subscriptionIds ?? [])].sort(), [1, 2, 3]);
  calls.length = 0;
  router.route(publish("q", 2));
  assert.equal(calls[0].subscriptionIds, null, "no ids when the matching filter has none");
});

test("route: RETAIN is set when any matching subscription is retain-as-published", () => {
  const cases: Array<[retained: boolean, raps: boolean[], expected: boolean]> = [
    [true, [false, false], false],
    [true, [false, true], true],
    [true, [true, false], true],
    [false, [true, true], false],
  ];
  for (const [retained, raps, expected] of cases) {
    const { router, calls } = recordingRouter();
    const a = session("a");
    router.subscribe(a, sub("r/+", { retainAsPublished: raps[0] }));
    router.subscribe(a, sub("r/#", { retainAsPublished: raps[1] }));
    router.route(publish("r/x", 1, retained));
    assert.equal(calls.length, 1);
    assert.equal(calls[0].retain, expected, `retained=${retained} raps=${raps}`);
  }
});

test("route: no-local skips the publisher's own subscriptions only", () => {
  const { router, calls } = recordingRouter();
  const self = session("self");
  const other = session("other");
  router.subscribe(self, sub("n/t", { noLocal: true }));
  router.subscribe(other, sub("n/t", { noLocal: true }));
  assert.equal(router.route(publish("n/t", 1, false, "self")), 1);
  assert.deepEqual(names(calls), ["other"]);

  // A second, non-no-local subscription of the publisher still delivers (at its own QoS).
  calls.length = 0;
  router.subscribe(self, sub("n/+", { qos: 0, subscriptionId: 9 }));
  router.route(publish("n/t", 2, false, "self"));
  const own = calls.find((c) => c.session === self);
  assert.ok(own !== undefined);
  assert.equal(own.qos, 0, "the no-local subscription's QoS 2 does not count");
  assert.deepEqual(own.subscriptionIds, [9]);
});

test("unsubscribe: a removed subscription no longer matches", () => {
  const { router, calls } = recordingRouter();
  const a = session("a");
  const s = sub("u/#");
  router.subscribe(a, s);
  assert.equal(router.subscriptionCount, 1);
  router.unsubscribe(a, s);
  assert.equal(router.subscriptionCount, 0);
  assert.equal(router.route(publish("u/1")), 0);
  assert.equal(calls.length, 0);
});

test("route: re-entering route() from a delivery is refused, not misrouted", () => {
  const calls: string[] = [];
  let router: Router | null = null;
  const deliver: DeliverFn = (s, message) => {
    calls.push(`${s.clientId} ${message.topic}`);
    if (message.topic === "outer") (router as Router).route(publish("inner"));
  };
  router = new Router("round_robin", deliver);
  router.subscribe(session("a"), sub("outer"));
  router.subscribe(session("b"), sub("outer"));
  router.subscribe(session("c"), sub("inner"));
  // The scratch arrays still hold the outer match: a nested route would hand the inner message
  // to the outer's remaining sessions and drop the outer message for them.
  assert.throws(() => router.route(publish("outer")), /not re-entrant/);
  assert.deepEqual(calls, ["a outer"]);
  assert.equal(router.routing, false, "the failed route left no scratch state behind");
  calls.length = 0;
  assert.equal(router.route(publish("inner")), 1);
  assert.deepEqual(calls, ["c inner"]);
});

test("route: a throwing DeliverFn leaves the router usable and routing correctly", () => {
  const calls: string[] = [];
  const deliver: DeliverFn = (s, message) => {
    if (s.clientId === "bad" && message.topic === "t/1") throw new Error("delivery bug");
    calls.push(`${s.clientId} ${message.topic}`);
  };
  const router = new Router("round_robin", deliver);
  router.subscribe(session("bad"), sub("t/1"));
  router.subscribe(session("x"), sub("t/+"));
  router.subscribe(session("y"), sharedSub("g", "t/1"));
  router.subscribe(session("z"), sub("t/2"));
  assert.throws(() => router.route(publish("t/1")), /delivery bug/);
  assert.equal(router.routing, false);
  calls.length = 0;
  // Sessions matched by the failed publish must not receive the next one.
  assert.equal(router.route(publish("t/2")), 2);
  assert.deepEqual(calls.sort(), ["x t/2", "z t/2"]);
});

// ---- shared subscriptions --------------------------------------------------------------------

test("shared: round robin over three connected members, exact sequence", () => {
  const { router, calls } = recordingRouter("round_robin");
  const members = [session("m1"), session("m2"), session("m3")];
  for (const m of members) router.subscribe(m, sharedSub("g", "sh/+", { subscriptionId: 4 }));
  for (let i = 0; i < 7; i++) assert.equal(router.route(publish("sh/x", 1)), 1);
  assert.deepEqual(names(calls), ["m1", "m2", "m3", "m1", "m2", "m3", "m1"]);
  for (const call of calls) {
    assert.ok(call.share !== null);
    assert.equal(call.share.group, "g");
    assert.equal(call.share.filter, "sh/+");
    assert.deepEqual(call.subscriptionIds, [4]);
  }
});

test("shared: QoS is the minimum of message and subscription; RETAIN per retain-as-published", () => {
  for (const messageQos of [0, 1, 2] as QoS[]) {
    for (const subQos of [0, 1, 2] as QoS[]) {
      for (const rap of [false, true]) {
        for (const retained of [false, true]) {
          const { router, calls } = recordingRouter();
          router.subscribe(
            session("m"),
            sharedSub("g", "t", { qos: subQos, retainAsPublished: rap }),
          );
          router.route(publish("t", messageQos, retained));
          const what = `qos ${messageQos}/${subQos} rap ${rap} retained ${retained}`;
          assert.equal(calls.length, 1, what);
          assert.equal(calls[0].qos, Math.min(messageQos, subQos), what);
          assert.equal(calls[0].retain, rap && retained, what);
          assert.equal(calls[0].subscriptionIds, null, what);
        }
      }
    }
  }
});

test("shared: a group and a normal subscription both get the message", () => {
  const { router, calls } = recordingRouter();
  const member = session("m");
  const plain = session("p");
  router.subscribe(member, sharedSub("g", "t", { qos: 1 }));
  router.subscribe(plain, sub("t"));
  router.subscribe(member, sub("t", { qos: 0 })); // the member's own normal subscription too
  assert.equal(router.route(publish("t", 2)), 3);
  const viaGroup = calls.filter((c) => c.share !== null);
  assert.equal(viaGroup.length, 1);
  assert.equal(viaGroup[0].session, member);
  assert.equal(viaGroup[0].qos, 1);
  assert.deepEqual(names(calls.filter((c) => c.share === null)).sort(), ["m", "p"]);
});

test("shared: connected members are preferred over offline ones", () => {
  const { router, calls } = recordingRouter();
  const offline = session("off", false, 3600);
  const online = session("on");
  router.subscribe(offline, sharedSub("g", "t"));
  router.subscribe(online, sharedSub("g", "t"));
  for (let i = 0; i < 4; i++) router.route(publish("t"));
  assert.deepEqual(names(calls), ["on", "on", "on", "on"]);
});

test("shared: an offline persistent member is used only when none is connected", () => {
  const { router, calls } = recordingRouter();
  const transient = session("transient", false, 0);
  const persistent = session("persistent", false, 60);
  router.subscribe(transient, sharedSub("g", "t"));
  router.subscribe(persistent, sharedSub("g", "t"));
  for (let i = 0; i < 3; i++) assert.equal(router.route(publish("t")), 1);
  assert.deepEqual(names(calls), ["persistent", "persistent", "persistent"]);
  transient.link = { protocolVersion: 4, clientMaxPacketBytes: 0 };
  calls.length = 0;
  router.route(publish("t"));
  router.route(publish("t"));
  assert.deepEqual(names(calls), ["transient", "transient"]);
});

test("shared: no delivery when every member is offline with expiry 0", () => {
  const { router, calls } = recordingRouter();
  router.subscribe(session("a", false, 0), sharedSub("g", "t"));
  router.subscribe(session("b", false, 0), sharedSub("g", "t"));
  assert.equal(router.route(publish("t")), 0);
  assert.equal(calls.length, 0);
});

test("shared: a member too small for the message is passed over while another can take it", () => {
  const { router: rr, calls: rrCalls } = recordingRouter("round_robin");
  rr.subscribe(session("small", true, 0, 64), sharedSub("g", "t"));
  rr.subscribe(session("roomy", true, 0, 100_000), sharedSub("g", "t"));
  for (let i = 0; i < 4; i++) rr.route(publish("t", 1));
  assert.deepEqual(names(rrCalls), ["small", "roomy", "small", "roomy"], "small messages: both");
  for (const strategy of ["round_robin", "hash_clientid"] as const) {
    const { router, calls } = recordingRouter(strategy);
    const small = session("small", true, 0, 64);
    const roomy = session("roomy", true, 0, 100_000);
    router.subscribe(small, sharedSub("g", "t"));
    router.subscribe(roomy, sharedSub("g", "t"));
    const large = new Message("t", Buffer.alloc(500), 1, false, undefined, 0, "publisher");
    for (let i = 0; i < 4; i++) router.route(large);
    assert.deepEqual(names(calls), ["roomy", "roomy", "roomy", "roomy"], strategy);
    // With no other member the small one gets it (and drops it, counted, when sending).
    router.unsubscribe(roomy, sharedSub("g", "t"));
    calls.length = 0;
    router.route(large);
    assert.deepEqual(names(calls), ["small"], strategy);
  }
});

test("shared: hash_clientid sends one origin to one member, consistently", () => {
  const { router, calls } = recordingRouter("hash_clientid");
  for (const id of ["m1", "m2", "m3", "m4"]) router.subscribe(session(id), sharedSub("g", "t"));
  const chosen = new Map<string, string>();
  // Back-to-back publishes from one origin, and again in later rounds: always the same member.
  for (let round = 0; round < 3; round++) {
    for (let p = 0; p < 21; p++) {
      const origin = `publisher-${p}`;
      for (let repeat = 0; repeat < 3; repeat++) {
        calls.length = 0;
        router.route(publish("t", 1, false, origin));
        assert.equal(calls.length, 1);
        const member = calls[0].session.clientId;
        const before = chosen.get(origin);
        if (before !== undefined) assert.equal(member, before, origin);
        chosen.set(origin, member);
      }
    }
  }
  assert.ok(new Set(chosen.values()).size > 1, "origins spread over several members");
});

test("shared: unsubscribe removes the member, then the empty group", () => {
  const { router, calls } = recordingRouter();
  const a = session("a");
  const b = session("b");
  const subA = sharedSub("g", "t/#");
  const subB = sharedSub("g", "t/#");
  router.subscribe(a, subA);
  router.subscribe(b, subB);
  assert.equal(router.subscriptionCount, 1, "one trie entry per group");
  router.unsubscribe(a, subA);
  for (let i = 0; i < 3; i++) router.route(publish("t/1"));
  assert.deepEqual(names(calls), ["b", "b", "b"]);
  router.unsubscribe(b, subB);
  assert.equal(router.subscriptionCount, 0, "the empty group left the trie");
  assert.equal(router.route(publish("t/1")), 0);
  router.unsubscribe(b, subB); // unknown group: no-op
  // A new subscription creates a fresh group that works again.
  router.subscribe(a, subA);
  calls.length = 0;
  assert.equal(router.route(publish("t/1")), 1);
  assert.deepEqual(names(calls), ["a"]);
});

test("shared: resubscribing replaces a member's subscription without adding a member", () => {
  const { router, calls } = recordingRouter();
  const a = session("a");
  router.subscribe(a, sharedSub("g", "t", { qos: 2 }));
  router.subscribe(a, sharedSub("g", "t", { qos: 0 }));
  assert.equal(router.route(publish("t", 2)), 1);
  assert.equal(calls[0].qos, 0);
});

test("deliverShared: skips the excluded member; false if it is the only one", () => {
  const { router, calls } = recordingRouter();
  const a = session("a");
  const b = session("b");
  router.subscribe(a, sharedSub("g", "t", { retainAsPublished: true, qos: 1 }));
  router.route(publish("t"));
  const group = calls[0].share as SharedGroup;
  assert.equal(calls[0].session, a);
  calls.length = 0;
  assert.equal(router.deliverShared(group, publish("t"), a), false);
  assert.equal(calls.length, 0);
  router.subscribe(b, sharedSub("g", "t", { retainAsPublished: true, qos: 1 }));
  for (let i = 0; i < 3; i++) {
    assert.equal(router.deliverShared(group, publish("t", 2, true), a), true);
  }
  assert.deepEqual(names(calls), ["b", "b", "b"]);
  assert.equal(calls[0].qos, 1);
  assert.equal(calls[0].retain, true);
  assert.equal(calls[0].share, group);
});

// ---- differential test against a naive matcher ------------------------------------------------

/** MQTT 5 section 4.7 read literally: '+' is one level, '#' the parent level and below. */
function naiveMatches(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  if (topic.startsWith("$") && (f[0] === "+" || f[0] === "#")) return false; // [MQTT-4.7.2-1]
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length || (f[i] !== "+" && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

interface Expected {
  qos: QoS;
  retain: boolean;
  subscriptionIds: number[];
}

/** What each session should receive, by the aggregation rules, from plain subscription maps. */
function referenceDeliveries(
  subscriptions: Map<string, Map<string, Subscription>>,
  message: Message,
): Map<string, Expected> {
  const out = new Map<string, Expected>();
  for (const [clientId, subs] of subscriptions) {
    const matching = [...subs.values()].filter(
      (s) =>
        naiveMatches(s.matchFilter, message.topic) && !(s.noLocal && clientId === message.origin),
    );
    if (matching.length === 0) continue;
    const subQos = Math.max(...matching.map((s) => s.qos));
    out.set(clientId, {
      qos: Math.min(subQos, message.qos) as QoS,
      retain: message.retain && matching.some((s) => s.retainAsPublished),
      subscriptionIds: matching.map((s) => s.subscriptionId).filter((id) => id !== 0),
    });
  }
  return out;
}

const CLIENT_IDS = ["c0", "c1", "c2", "c3"];
const filterLevel = fc.constantFrom("a", "b", "", "$s", "+");
const topicLevel = fc.constantFrom("a", "b", "", "$s", "c");
const filterArbitrary = fc
  .tuple(fc.array(filterLevel, { minLength: 0, maxLength: 3 }), fc.boolean())
  .map(([levels, hash]) => (hash ? [...levels, "#"] : levels).join("/"))
  .filter((filter) => filter.length > 0);
const topicArbitrary = fc
  .array(topicLevel, { minLength: 1, maxLength: 4 })
  .map((levels) => levels.join("/"))
  .filter((topic) => topic.length > 0);

type RouterOp =
  | { kind: "subscribe"; client: number; sub: Subscription }
  | { kind: "unsubscribe"; client: number; filter: string }
  | { kind: "publish"; topic: string; qos: QoS; retain: boolean; origin: number };

const qosArbitrary = fc.constantFrom<QoS>(0, 1, 2);
const routerOp: fc.Arbitrary<RouterOp> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("subscribe" as const),
      client: fc.nat(CLIENT_IDS.length - 1),
      sub: fc
        .record({
          filter: filterArbitrary,
          qos: qosArbitrary,
          noLocal: fc.boolean(),
          retainAsPublished: fc.boolean(),
          subscriptionId: fc.nat(3),
        })
        .map(({ filter, ...options }) => sub(filter, options)),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("unsubscribe" as const),
      client: fc.nat(CLIENT_IDS.length - 1),
      filter: filterArbitrary,
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("publish" as const),
      topic: topicArbitrary,
      qos: qosArbitrary,
      retain: fc.boolean(),
      // One past the last client id: a publisher that is not subscribed at all.
      origin: fc.nat(CLIENT_IDS.length),
    }),
  },
);

function checkPublish(
  router: Router,
  calls: Call[],
  subscriptions: Map<string, Map<string, Subscription>>,
  message: Message,
): void {
  calls.length = 0;
  const count = router.route(message);
  const expected = referenceDeliveries(subscriptions, message);
  assert.equal(count, calls.length);
  assert.deepEqual(names(calls).sort(), [...expected.keys()].sort(), `topic ${message.topic}`);
  for (const call of calls) {
    const want = expected.get(call.session.clientId) as Expected;
    assert.equal(call.message, message);
    assert.equal(call.share, null);
    assert.equal(call.qos, want.qos, `qos for ${call.session.clientId} on ${message.topic}`);
    assert.equal(call.retain, want.retain, `retain for ${call.session.clientId}`);
    assert.deepEqual([...(call.subscriptionIds ?? [])].sort(), want.subscriptionIds.sort());
    if (want.subscriptionIds.length === 0) assert.equal(call.subscriptionIds, null);
  }
}

test("route differential: random subscriptions and topics against a naive matcher", () => {
  fc.assert(
    fc.property(fc.array(routerOp, { maxLength: 60 }), (ops) => {
      const { router, calls } = recordingRouter();
      const sessions = CLIENT_IDS.map((id) => session(id));
      const subscriptions = new Map(CLIENT_IDS.map((id) => [id, new Map<string, Subscription>()]));
      for (const op of ops) {
        if (op.kind === "subscribe") {
          router.subscribe(sessions[op.client], op.sub);
          subscriptions.get(CLIENT_IDS[op.client])?.set(op.sub.filter, op.sub);
        } else if (op.kind === "unsubscribe") {
          const own = subscriptions.get(CLIENT_IDS[op.client]) as Map<string, Subscription>;
          const existing = own.get(op.filter);
          if (existing === undefined) continue;
          router.unsubscribe(sessions[op.client], existing);
          own.delete(op.filter);
        } else {
          const origin = CLIENT_IDS[op.origin] ?? "stranger";
          checkPublish(router, calls, subscriptions, publish(op.topic, op.qos, op.retain, origin));
        }
        const total = [...subscriptions.values()].reduce((n, subs) => n + subs.size, 0);
        assert.equal(router.subscriptionCount, total);
      }
    }),
    { numRuns: 400 },
  );
});

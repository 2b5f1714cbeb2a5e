/**
 * The consumer group state machine with explicit time: joins, syncs, heartbeats, leaves,
 * session and rebalance timeouts, and the errors Kafka answers with.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JoinOutcome, SyncOutcome } from "../../../../src/broker/kafka/groups/group.ts";
import {
  GroupCoordinator,
  type JoinInput,
} from "../../../../src/broker/kafka/groups/group-coordinator.ts";
import { KafkaError } from "../../../../src/protocol/kafka/error-codes.ts";

const SESSION_MS = 10_000;
const REBALANCE_MS = 20_000;

function coordinator(initialRebalanceDelayMs = 0): GroupCoordinator {
  let next = 0;
  return new GroupCoordinator({
    minSessionTimeoutMs: 1000,
    maxSessionTimeoutMs: 60_000,
    initialRebalanceDelayMs,
    newMemberId: (clientId) => `${clientId}-${++next}`,
  });
}

function input(memberId: string, overrides: Partial<JoinInput> = {}): JoinInput {
  return {
    groupId: "g",
    memberId,
    clientId: "c",
    clientHost: "/127.0.0.1",
    sessionTimeoutMs: SESSION_MS,
    rebalanceTimeoutMs: REBALANCE_MS,
    protocolType: "consumer",
    protocols: [{ name: "range", metadata: Buffer.from(memberId) }],
    requireKnownMemberId: true,
    groupInstanceId: null,
    ...overrides,
  };
}

/** LeaveGroup entries naming dynamic members. */
function dynamic(...memberIds: string[]) {
  return memberIds.map((memberId) => ({ memberId, groupInstanceId: null }));
}

/** A join whose answer is captured; `outcome` stays undefined while the join waits. */
function join(c: GroupCoordinator, now: number, request: JoinInput) {
  let answer: JoinOutcome | undefined;
  c.join(now, request, (outcome) => {
    assert.equal(answer, undefined, "answered once");
    answer = outcome;
  });
  return { outcome: () => answer };
}

function sync(
  c: GroupCoordinator,
  now: number,
  memberId: string,
  generationId: number,
  assign = new Map<string, Buffer>(),
  groupInstanceId: string | null = null,
) {
  let answer: SyncOutcome | undefined;
  const request = { groupId: "g", generationId, memberId, groupInstanceId, assignments: assign };
  c.sync(now, request, (outcome) => {
    answer = outcome;
  });
  return { outcome: () => answer };
}

/** The v4 handshake: MEMBER_ID_REQUIRED, then a join with the id given. */
function newMember(c: GroupCoordinator, now: number) {
  const first = join(c, now, input(""));
  assert.equal(first.outcome()?.errorCode, KafkaError.MEMBER_ID_REQUIRED);
  const id = first.outcome()?.memberId ?? "";
  assert.notEqual(id, "");
  return { id, joined: join(c, now, input(id)) };
}

/** Three members in a Stable group at generation 1; returns their ids, leader first. */
function stableGroupOfThree(c: GroupCoordinator): string[] {
  const members = [newMember(c, 0), newMember(c, 0), newMember(c, 0)];
  // The first join completed alone (no delay); the others rebalanced the group.
  const rejoin = join(c, 0, input(members[0].id));
  for (const m of [...members.slice(1)])
    assert.equal(m.joined.outcome()?.errorCode, KafkaError.NONE);
  assert.equal(rejoin.outcome()?.errorCode, KafkaError.NONE);
  const generation = rejoin.outcome()?.generationId ?? -1;
  const leader = rejoin.outcome()?.leader ?? "";
  const assignments = new Map(members.map((m) => [m.id, Buffer.from(`for-${m.id}`)]));
  const syncs = members.map((m) =>
    sync(c, 1, m.id, generation, m.id === leader ? assignments : undefined),
  );
  for (const [i, s] of syncs.entries()) {
    assert.equal(s.outcome()?.errorCode, KafkaError.NONE);
    assert.equal(String(s.outcome()?.assignment), `for-${members[i].id}`);
  }
  assert.equal(c.group("g")?.state, "Stable");
  return [leader, ...members.map((m) => m.id).filter((id) => id !== leader)];
}

describe("group coordinator", () => {
  test("a v4 member gets an id with MEMBER_ID_REQUIRED, joins, syncs and heartbeats", () => {
    const c = coordinator();
    const { id, joined } = newMember(c, 0);
    assert.deepEqual(joined.outcome(), {
      errorCode: KafkaError.NONE,
      generationId: 1,
      protocolName: "range",
      leader: id,
      memberId: id,
      members: [{ memberId: id, groupInstanceId: null, metadata: Buffer.from(id) }],
    });
    const synced = sync(c, 1, id, 1, new Map([[id, Buffer.from("all")]]));
    assert.deepEqual(synced.outcome(), {
      errorCode: KafkaError.NONE,
      assignment: Buffer.from("all"),
    });
    assert.equal(
      c.heartbeat(2, { groupId: "g", generationId: 1, memberId: id, groupInstanceId: null }),
      KafkaError.NONE,
    );
  });

  test("a v0-3 member without an id is given one in the join answer", () => {
    const c = coordinator();
    const joined = join(c, 0, input("", { requireKnownMemberId: false }));
    assert.equal(joined.outcome()?.errorCode, KafkaError.NONE);
    assert.equal(joined.outcome()?.memberId, "c-1");
  });

  test("the initial delay gathers members that join within it", () => {
    const c = coordinator(3000);
    const a = newMember(c, 0);
    const b = newMember(c, 2000);
    c.tick(3000);
    assert.equal(a.joined.outcome(), undefined, "b's arrival extended the wait");
    assert.equal(c.nextDeadline(), 5000);
    c.tick(5000);
    assert.equal(a.joined.outcome()?.generationId, 1);
    assert.equal(b.joined.outcome()?.generationId, 1);
    assert.equal(a.joined.outcome()?.members.length, 2, "the leader sees both");
    assert.equal(b.joined.outcome()?.members.length, 0);
  });

  test("a member leaving rebalances the rest; old generations and ids are refused", () => {
    const c = coordinator();
    const [leader, second, third] = stableGroupOfThree(c);
    const oldGeneration = c.group("g")?.generationId ?? -1;
    assert.deepEqual(c.leave(10, "g", dynamic(third, "nobody")), [
      KafkaError.NONE,
      KafkaError.UNKNOWN_MEMBER_ID,
    ]);
    const ref = { groupId: "g", generationId: oldGeneration, groupInstanceId: null };
    assert.equal(c.heartbeat(11, { ...ref, memberId: leader }), KafkaError.REBALANCE_IN_PROGRESS);
    assert.equal(c.heartbeat(11, { ...ref, memberId: third }), KafkaError.UNKNOWN_MEMBER_ID);
    assert.equal(
      sync(c, 11, second, oldGeneration).outcome()?.errorCode,
      KafkaError.REBALANCE_IN_PROGRESS,
    );
    // Commits from the current generation are still taken while the group rebalances.
    assert.equal(c.checkCommit(11, { ...ref, memberId: second }), KafkaError.NONE);
    const a = join(c, 12, input(leader));
    assert.equal(a.outcome(), undefined, "waits for the other member");
    const b = join(c, 13, input(second));
    assert.equal(a.outcome()?.generationId, oldGeneration + 1);
    assert.equal(b.outcome()?.generationId, oldGeneration + 1);
    assert.deepEqual(
      a
        .outcome()
        ?.members.map((m) => m.memberId)
        .sort(),
      [leader, second].sort(),
    );
    const stale = {
      groupId: "g",
      generationId: oldGeneration,
      memberId: leader,
      groupInstanceId: null,
    };
    assert.equal(c.heartbeat(14, stale), KafkaError.ILLEGAL_GENERATION);
    assert.equal(
      sync(c, 14, leader, oldGeneration).outcome()?.errorCode,
      KafkaError.ILLEGAL_GENERATION,
    );
    assert.equal(c.checkCommit(14, stale), KafkaError.ILLEGAL_GENERATION);
    assert.equal(
      c.checkCommit(14, { ...stale, generationId: oldGeneration + 1 }),
      KafkaError.REBALANCE_IN_PROGRESS,
      "no commits between the join and the sync",
    );
  });

  test("a member joining a stable group makes the others rejoin; awaiting syncs are told", () => {
    const c = coordinator();
    const [leader, second] = stableGroupOfThree(c);
    const generation = c.group("g")?.generationId ?? -1;
    const newcomer = newMember(c, 100);
    assert.equal(newcomer.joined.outcome(), undefined);
    const ref = { groupId: "g", generationId: generation, groupInstanceId: null };
    assert.equal(c.heartbeat(101, { ...ref, memberId: second }), KafkaError.REBALANCE_IN_PROGRESS);
    const answers = c.group("g")?.members.size;
    assert.equal(answers, 4);
    const others = [...(c.group("g")?.members.keys() ?? [])].filter((id) => id !== newcomer.id);
    const joins = others.map((id) => join(c, 102, input(id)));
    for (const j of [...joins, newcomer.joined]) {
      assert.equal(j.outcome()?.generationId, generation + 1);
    }
    // A follower's sync waits for the leader; a new member then restarts the rebalance.
    const waiting = sync(c, 103, second, generation + 1);
    assert.equal(waiting.outcome(), undefined);
    newMember(c, 104);
    assert.equal(waiting.outcome()?.errorCode, KafkaError.REBALANCE_IN_PROGRESS);
    assert.ok(leader);
  });

  test("a member that does not rejoin in the rebalance timeout is removed", () => {
    const c = coordinator();
    const [leader, second, third] = stableGroupOfThree(c);
    c.leave(1000, "g", dynamic(third));
    const a = join(c, 1000, input(leader));
    // `second` keeps heartbeating but never rejoins.
    for (const now of [5000, 14_000, 19_000]) {
      const ref = { groupId: "g", generationId: 2, memberId: second, groupInstanceId: null };
      assert.equal(c.heartbeat(now, ref), KafkaError.REBALANCE_IN_PROGRESS);
    }
    assert.equal(c.nextDeadline(), 1000 + REBALANCE_MS);
    c.tick(1000 + REBALANCE_MS - 1);
    assert.equal(a.outcome(), undefined);
    c.tick(1000 + REBALANCE_MS);
    assert.equal(a.outcome()?.errorCode, KafkaError.NONE);
    assert.deepEqual(
      a.outcome()?.members.map((m) => m.memberId),
      [leader],
    );
    assert.equal(c.group("g")?.members.has(second), false);
  });

  test("a silent member is removed after its session timeout and the group rebalances", () => {
    const c = coordinator();
    const [leader, second, third] = stableGroupOfThree(c);
    for (const now of [4000, 8000]) {
      for (const id of [leader, second]) {
        assert.equal(
          c.heartbeat(now, { groupId: "g", generationId: 2, memberId: id, groupInstanceId: null }),
          KafkaError.NONE,
        );
      }
    }
    c.tick(1 + SESSION_MS - 1);
    assert.equal(c.group("g")?.members.has(third), true);
    c.tick(1 + SESSION_MS);
    assert.equal(c.group("g")?.members.has(third), false);
    assert.equal(c.group("g")?.state, "PreparingRebalance");
  });

  test("a late tick past both deadlines completes the join once, without a second rebalance", () => {
    const c = coordinator();
    stableGroupOfThree(c);
    // A newcomer starts a rebalance; the three members fall silent.
    const newcomer = newMember(c, 1000);
    assert.equal(newcomer.joined.outcome(), undefined, "waits for the others");
    // One tick after both their sessions (1 + SESSION_MS) and the rebalance (1000 + REBALANCE_MS)
    // ended, as a stalled event loop gives: the first removal completes the join, which drops the
    // other two.
    c.tick(1000 + REBALANCE_MS + 5000);
    const joined = newcomer.joined.outcome();
    assert.equal(joined?.errorCode, KafkaError.NONE);
    assert.deepEqual(
      joined?.members.map((m) => m.memberId),
      [newcomer.id],
    );
    assert.equal(c.group("g")?.state, "CompletingRebalance");
    const assignment = new Map([[newcomer.id, Buffer.from("all")]]);
    const synced = sync(c, 26_000, newcomer.id, joined?.generationId ?? -1, assignment);
    assert.equal(synced.outcome()?.errorCode, KafkaError.NONE);
    assert.equal(c.group("g")?.state, "Stable");
  });

  test("an id handed out with MEMBER_ID_REQUIRED expires unused", () => {
    const c = coordinator();
    const first = join(c, 0, input(""));
    const id = first.outcome()?.memberId ?? "";
    c.tick(SESSION_MS);
    assert.equal(
      join(c, SESSION_MS + 1, input(id)).outcome()?.errorCode,
      KafkaError.UNKNOWN_MEMBER_ID,
    );
    assert.equal(c.nextDeadline(), null);
  });

  test("the last member leaving empties the group and bumps the generation", () => {
    const c = coordinator();
    const { id } = newMember(c, 0);
    sync(c, 0, id, 1, new Map());
    assert.deepEqual(c.leave(5, "g", dynamic(id)), [KafkaError.NONE]);
    assert.equal(c.group("g")?.state, "Empty");
    assert.equal(c.group("g")?.generationId, 2);
    assert.equal(
      c.checkCommit(6, { groupId: "g", generationId: -1, memberId: "", groupInstanceId: null }),
      KafkaError.NONE,
    );
    assert.equal(
      c.checkCommit(6, { groupId: "g", generationId: 1, memberId: id, groupInstanceId: null }),
      KafkaError.UNKNOWN_MEMBER_ID,
    );
    // A stale member id with generation -1 commits as a standalone client would, as in Kafka.
    for (const groupId of ["g", "unknown"]) {
      const standalone = { groupId, generationId: -1, memberId: id, groupInstanceId: null };
      assert.equal(c.checkCommit(6, standalone), KafkaError.NONE, groupId);
    }
  });

  test("protocol type and protocols must match the group's; session timeout within bounds", () => {
    const c = coordinator();
    newMember(c, 0);
    const otherType = join(c, 1, input("", { protocolType: "connect" }));
    assert.equal(otherType.outcome()?.errorCode, KafkaError.INCONSISTENT_GROUP_PROTOCOL);
    const otherProtocol = join(
      c,
      1,
      input("", { protocols: [{ name: "sticky", metadata: Buffer.alloc(0) }] }),
    );
    assert.equal(otherProtocol.outcome()?.errorCode, KafkaError.INCONSISTENT_GROUP_PROTOCOL);
    const short = join(c, 1, input("", { sessionTimeoutMs: 999 }));
    assert.equal(short.outcome()?.errorCode, KafkaError.INVALID_SESSION_TIMEOUT);
    assert.equal(
      join(c, 1, input("", { groupId: "" })).outcome()?.errorCode,
      KafkaError.INVALID_GROUP_ID,
    );
    assert.equal(
      join(c, 1, input("ghost", { groupId: "other" })).outcome()?.errorCode,
      KafkaError.UNKNOWN_MEMBER_ID,
    );
  });

  test("the protocol most members prefer among those all support is chosen", () => {
    const c = coordinator(1000);
    const p = (...names: string[]) => names.map((name) => ({ name, metadata: Buffer.from(name) }));
    const joins = [p("roundrobin", "range"), p("range", "roundrobin"), p("range")].map(
      (protocols) => join(c, 0, input("", { requireKnownMemberId: false, protocols })),
    );
    c.tick(1000);
    for (const j of joins) assert.equal(j.outcome()?.protocolName, "range");
  });

  test("commits from a group member must name the current generation", () => {
    const c = coordinator();
    assert.equal(
      c.checkCommit(0, { groupId: "none", generationId: 3, memberId: "m", groupInstanceId: null }),
      KafkaError.ILLEGAL_GENERATION,
    );
    const [leader] = stableGroupOfThree(c);
    assert.equal(
      c.checkCommit(5, { groupId: "g", generationId: 2, memberId: leader, groupInstanceId: null }),
      KafkaError.NONE,
    );
    assert.equal(
      c.checkCommit(5, { groupId: "g", generationId: 1, memberId: leader, groupInstanceId: null }),
      KafkaError.ILLEGAL_GENERATION,
    );
    assert.equal(
      c.checkCommit(5, { groupId: "g", generationId: -1, memberId: "", groupInstanceId: null }),
      KafkaError.UNKNOWN_MEMBER_ID,
    );
  });
});

describe("static membership (group instance ids)", () => {
  /** A join from static member `instance` (same protocol metadata every time). */
  function staticJoin(c: GroupCoordinator, now: number, instance: string, memberId = "") {
    const protocols = [{ name: "range", metadata: Buffer.from(instance) }];
    return join(c, now, input(memberId, { groupInstanceId: instance, protocols }));
  }

  /** Static member "s1" (the leader) and a dynamic member, Stable at generation 2. */
  function stableMixedGroup(c: GroupCoordinator) {
    const first = staticJoin(c, 0, "s1");
    assert.equal(first.outcome()?.errorCode, KafkaError.NONE, "no MEMBER_ID_REQUIRED round");
    const staticId = first.outcome()?.memberId ?? "";
    const dynamicMember = newMember(c, 0);
    const rejoin = staticJoin(c, 0, "s1", staticId);
    assert.equal(rejoin.outcome()?.generationId, 2);
    assert.equal(rejoin.outcome()?.leader, staticId);
    assert.deepEqual(
      rejoin.outcome()?.members.map((m) => [m.memberId, m.groupInstanceId]),
      [
        [staticId, "s1"],
        [dynamicMember.id, null],
      ],
      "the leader learns which member is static",
    );
    const assignments = new Map([
      [staticId, Buffer.from("for-s1")],
      [dynamicMember.id, Buffer.from("for-dynamic")],
    ]);
    assert.equal(sync(c, 1, staticId, 2, assignments, "s1").outcome()?.errorCode, KafkaError.NONE);
    assert.equal(sync(c, 1, dynamicMember.id, 2).outcome()?.errorCode, KafkaError.NONE);
    assert.equal(c.group("g")?.state, "Stable");
    return { staticId, dynamicId: dynamicMember.id };
  }

  test("a restarted static member takes over its membership without a rebalance", () => {
    const c = coordinator();
    const { staticId, dynamicId } = stableMixedGroup(c);
    const restarted = staticJoin(c, 50, "s1");
    const outcome = restarted.outcome();
    assert.equal(outcome?.errorCode, KafkaError.NONE);
    assert.equal(outcome?.generationId, 2, "same generation: no rebalance");
    const newId = outcome?.memberId ?? "";
    assert.notEqual(newId, staticId);
    assert.equal(outcome?.leader, newId, "it was the leader and still is");
    assert.equal(c.group("g")?.state, "Stable");
    const ref = { groupId: "g", generationId: 2 };
    assert.equal(
      c.heartbeat(51, { ...ref, memberId: dynamicId, groupInstanceId: null }),
      KafkaError.NONE,
      "the other member is not disturbed",
    );
    const synced = sync(c, 52, newId, 2, new Map(), "s1").outcome();
    assert.equal(synced?.errorCode, KafkaError.NONE);
    assert.equal(String(synced?.assignment), "for-s1", "its assignment carried over");
    // The old incarnation is fenced wherever it names the instance, unknown where it does not.
    const old = { ...ref, memberId: staticId, groupInstanceId: "s1" };
    assert.equal(c.heartbeat(53, old), KafkaError.FENCED_INSTANCE_ID);
    assert.equal(c.checkCommit(53, old), KafkaError.FENCED_INSTANCE_ID);
    assert.equal(
      sync(c, 53, staticId, 2, new Map(), "s1").outcome()?.errorCode,
      KafkaError.FENCED_INSTANCE_ID,
    );
    assert.equal(
      staticJoin(c, 53, "s1", staticId).outcome()?.errorCode,
      KafkaError.FENCED_INSTANCE_ID,
    );
    assert.equal(c.heartbeat(53, { ...old, groupInstanceId: null }), KafkaError.UNKNOWN_MEMBER_ID);
    assert.equal(c.heartbeat(54, { ...old, memberId: newId }), KafkaError.NONE);
  });

  test("a static member back with other protocols, or into a rebalance, rebalances", () => {
    const c = coordinator();
    stableMixedGroup(c);
    const changed = [{ name: "roundrobin", metadata: Buffer.from("x") }, ...input("").protocols];
    const back = join(c, 50, input("", { groupInstanceId: "s1", protocols: changed }));
    assert.equal(back.outcome(), undefined, "waits for the rebalance");
    assert.equal(c.group("g")?.state, "PreparingRebalance");
  });

  test("an old incarnation waiting in a join is fenced when its instance comes back", () => {
    const c = coordinator();
    const { staticId } = stableMixedGroup(c);
    newMember(c, 10); // a newcomer starts a rebalance
    const waiting = staticJoin(c, 11, "s1", staticId);
    assert.equal(waiting.outcome(), undefined);
    const restarted = staticJoin(c, 12, "s1");
    assert.equal(waiting.outcome()?.errorCode, KafkaError.FENCED_INSTANCE_ID);
    assert.equal(restarted.outcome(), undefined, "joins the rebalance under its new id");
  });

  test("a silent static member is removed at its session timeout, instance and all", () => {
    const c = coordinator();
    const { staticId, dynamicId } = stableMixedGroup(c);
    for (let now = 1000; now < SESSION_MS + 2; now += 1000) {
      c.heartbeat(now, {
        groupId: "g",
        generationId: 2,
        memberId: dynamicId,
        groupInstanceId: null,
      });
    }
    c.tick(SESSION_MS + 2);
    assert.equal(c.group("g")?.members.has(staticId), false);
    assert.equal(c.group("g")?.staticMembers.has("s1"), false);
  });

  test("LeaveGroup v3 removes a static member by its instance id; a wrong member id is fenced", () => {
    const c = coordinator();
    const { staticId } = stableMixedGroup(c);
    assert.deepEqual(
      c.leave(10, "g", [
        { memberId: "someone-else", groupInstanceId: "s1" },
        { memberId: "", groupInstanceId: "unknown-instance" },
      ]),
      [KafkaError.FENCED_INSTANCE_ID, KafkaError.UNKNOWN_MEMBER_ID],
    );
    assert.deepEqual(c.leave(11, "g", [{ memberId: "", groupInstanceId: "s1" }]), [
      KafkaError.NONE,
    ]);
    assert.equal(c.group("g")?.members.has(staticId), false);
    assert.equal(c.group("g")?.state, "PreparingRebalance");
  });
});

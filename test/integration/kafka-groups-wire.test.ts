/**
 * Group and offset APIs with raw requests, for what real clients only do by accident: stale
 * generations, unknown members, old API versions, commits without a group.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ApiKey } from "../../src/protocol/kafka/api-keys.ts";
import { KafkaError } from "../../src/protocol/kafka/error-codes.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { consumerSubscription, createTopic } from "../helpers/kafka-wire.ts";
import { WireClient } from "../unit/protocol/kafka/wire-client.ts";

let broker: BrokerProcess;
let client: WireClient;

before(async () => {
  broker = await startBroker({
    logLevel: "info",
    config: "[kafka]\ngroup_min_session_timeout_ms = 1000\ngroup_initial_rebalance_delay_ms = 0\n",
  });
  client = await WireClient.connect(broker.kafkaPort ?? 0);
  await createTopic(client, "wire", 2);
});

after(async () => {
  client?.close();
  await broker?.stop();
});

const protocols = [{ name: "range", metadata: Buffer.from("m") }];

/** A JoinGroup request body without its member id. */
function joinRequest(groupId: string, groupInstanceId: string | null = null) {
  return {
    groupId,
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    protocolType: "consumer",
    protocols,
    groupInstanceId,
  };
}

/** Commits `offset` for `partitions` of `topic` as a standalone client (no generation). */
function commitStandalone(groupId: string, topic: string, partitions: number[], offset = 3n) {
  return client.request(ApiKey.OffsetCommit, 7, {
    groupId,
    generationIdOrMemberEpoch: -1,
    memberId: "",
    topics: [
      {
        name: topic,
        partitions: partitions.map((partitionIndex) => ({
          partitionIndex,
          committedOffset: offset,
        })),
      },
    ],
  });
}

/** The group's committed offset of one partition; -1 when none. */
async function committedOffset(groupId: string, topic: string, partition: number) {
  const fetched = await client.request(ApiKey.OffsetFetch, 5, {
    groupId,
    topics: [{ name: topic, partitionIndexes: [partition] }],
  });
  return fetched.topics[0].partitions[0].committedOffset;
}

async function joinedMember(groupId: string): Promise<{ memberId: string; generationId: number }> {
  const join = joinRequest(groupId);
  const first = await client.request(ApiKey.JoinGroup, 5, { ...join, memberId: "" });
  assert.equal(first.errorCode, KafkaError.MEMBER_ID_REQUIRED);
  assert.notEqual(first.memberId, "");
  const second = await client.request(ApiKey.JoinGroup, 5, { ...join, memberId: first.memberId });
  assert.equal(second.errorCode, KafkaError.NONE);
  assert.equal(second.leader, first.memberId);
  assert.equal(second.protocolName, "range");
  assert.deepEqual(
    second.members.map((m) => m.memberId),
    [first.memberId],
  );
  return { memberId: second.memberId, generationId: second.generationId };
}

test("FindCoordinator names this node for groups and refuses transaction coordinators", async () => {
  for (const version of [0, 1, 2]) {
    const found = await client.request(ApiKey.FindCoordinator, version, { key: "g", keyType: 0 });
    assert.equal(found.errorCode, KafkaError.NONE);
    assert.equal(found.nodeId, 1);
    assert.equal(found.port, broker.kafkaPort);
  }
  const txn = await client.request(ApiKey.FindCoordinator, 2, { key: "t", keyType: 1 });
  assert.equal(txn.errorCode, KafkaError.INVALID_REQUEST);
});

test("stale generations and unknown members get Kafka's errors", async () => {
  const { memberId, generationId } = await joinedMember("wire-group");
  const stale = generationId - 1;
  const sync = await client.request(ApiKey.SyncGroup, 3, {
    groupId: "wire-group",
    generationId: stale,
    memberId,
    assignments: [],
  });
  assert.equal(sync.errorCode, KafkaError.ILLEGAL_GENERATION);
  const synced = await client.request(ApiKey.SyncGroup, 0, {
    groupId: "wire-group",
    generationId,
    memberId,
    assignments: [{ memberId, assignment: Buffer.from("mine") }],
  });
  assert.equal(synced.errorCode, KafkaError.NONE);
  assert.deepEqual(synced.assignment, Buffer.from("mine"));
  for (const version of [0, 3]) {
    const beat = (gen: number, member: string) =>
      client.request(ApiKey.Heartbeat, version, {
        groupId: "wire-group",
        generationId: gen,
        memberId: member,
      });
    assert.equal((await beat(generationId, memberId)).errorCode, KafkaError.NONE);
    assert.equal((await beat(stale, memberId)).errorCode, KafkaError.ILLEGAL_GENERATION);
    assert.equal((await beat(generationId, "stranger")).errorCode, KafkaError.UNKNOWN_MEMBER_ID);
  }
  const commit = (gen: number, member: string) =>
    client.request(ApiKey.OffsetCommit, 7, {
      groupId: "wire-group",
      generationIdOrMemberEpoch: gen,
      memberId: member,
      topics: [
        {
          name: "wire",
          partitions: [{ partitionIndex: 0, committedOffset: 5n, committedMetadata: "x" }],
        },
      ],
    });
  assert.equal(
    (await commit(stale, memberId)).topics[0].partitions[0].errorCode,
    KafkaError.ILLEGAL_GENERATION,
  );
  assert.equal(
    (await commit(generationId, "stranger")).topics[0].partitions[0].errorCode,
    KafkaError.UNKNOWN_MEMBER_ID,
  );
  assert.equal(
    (await commit(-1, "")).topics[0].partitions[0].errorCode,
    KafkaError.UNKNOWN_MEMBER_ID,
  );
  assert.equal(
    (await commit(generationId, memberId)).topics[0].partitions[0].errorCode,
    KafkaError.NONE,
  );
  const joinStale = await client.request(ApiKey.JoinGroup, 5, {
    groupId: "wire-group",
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    memberId: "stranger",
    protocolType: "consumer",
    protocols,
  });
  assert.equal(joinStale.errorCode, KafkaError.UNKNOWN_MEMBER_ID);
  const leave = await client.request(ApiKey.LeaveGroup, 3, {
    groupId: "wire-group",
    members: [{ memberId }, { memberId: "stranger" }],
  });
  assert.deepEqual(
    leave.members.map((m) => m.errorCode),
    [KafkaError.NONE, KafkaError.UNKNOWN_MEMBER_ID],
  );
  const again = await client.request(ApiKey.LeaveGroup, 0, { groupId: "wire-group", memberId });
  assert.equal(again.errorCode, KafkaError.UNKNOWN_MEMBER_ID);
  const fetched = await client.request(ApiKey.OffsetFetch, 5, {
    groupId: "wire-group",
    topics: null,
  });
  assert.deepEqual(
    fetched.topics.map((t) => [
      t.name,
      t.partitions.map((p) => [p.partitionIndex, p.committedOffset, p.metadata]),
    ]),
    [["wire", [[0, 5n, "x"]]]],
  );
});

test("JoinGroup v0 and a too short session timeout", async () => {
  const v0 = await client.request(ApiKey.JoinGroup, 0, {
    groupId: "old-group",
    sessionTimeoutMs: 5000,
    memberId: "",
    protocolType: "consumer",
    protocols,
  });
  assert.equal(v0.errorCode, KafkaError.NONE);
  assert.equal(v0.generationId, 1);
  const short = await client.request(ApiKey.JoinGroup, 5, {
    groupId: "old-group",
    sessionTimeoutMs: 999,
    rebalanceTimeoutMs: 1000,
    memberId: "",
    protocolType: "consumer",
    protocols,
  });
  assert.equal(short.errorCode, KafkaError.INVALID_SESSION_TIMEOUT);
});

test("offsets committed without a group: every version, unknown partitions, metadata size", async () => {
  for (const version of [2, 3, 4, 5, 6, 7]) {
    const committed = await client.request(ApiKey.OffsetCommit, version, {
      groupId: `simple-${version}`,
      generationIdOrMemberEpoch: -1,
      memberId: "",
      retentionTimeMs: -1n,
      topics: [
        {
          name: "wire",
          partitions: [
            {
              partitionIndex: 1,
              committedOffset: BigInt(version),
              committedLeaderEpoch: 0,
              committedMetadata: null,
            },
            { partitionIndex: 9, committedOffset: 1n, committedMetadata: "" },
            { partitionIndex: 0, committedOffset: 1n, committedMetadata: "m".repeat(4097) },
          ],
        },
        { name: "no-such-topic", partitions: [{ partitionIndex: 0, committedOffset: 1n }] },
      ],
    });
    assert.deepEqual(
      committed.topics.map((t) => t.partitions.map((p) => p.errorCode)),
      [
        [
          KafkaError.NONE,
          KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
          KafkaError.OFFSET_METADATA_TOO_LARGE,
        ],
        [KafkaError.UNKNOWN_TOPIC_OR_PARTITION],
      ],
    );
  }
  for (const version of [1, 2, 3, 4, 5]) {
    const fetched = await client.request(ApiKey.OffsetFetch, version, {
      groupId: "simple-6",
      topics: [{ name: "wire", partitionIndexes: [0, 1] }],
    });
    const partitions = fetched.topics[0].partitions;
    assert.deepEqual(
      partitions.map((p) => [p.partitionIndex, p.committedOffset, p.errorCode]),
      [
        [0, -1n, 0],
        [1, 6n, 0],
      ],
    );
    if (version === 5) assert.equal(partitions[1].committedLeaderEpoch, 0);
  }
});

test("a static member (group.instance.id) restarts without a rebalance; its old id is fenced", async () => {
  const groupId = "wire-static";
  const groupInstanceId = "consumer-on-host-1";
  const join = joinRequest(groupId, groupInstanceId);
  const first = await client.request(ApiKey.JoinGroup, 5, { ...join, memberId: "" });
  assert.equal(first.errorCode, KafkaError.NONE, "a static member needs no second join");
  assert.deepEqual(first.members, [
    { memberId: first.memberId, groupInstanceId, metadata: Buffer.from("m") },
  ]);
  const assigned = await client.request(ApiKey.SyncGroup, 3, {
    groupId,
    generationId: first.generationId,
    memberId: first.memberId,
    groupInstanceId,
    assignments: [{ memberId: first.memberId, assignment: Buffer.from("partitions 0-1") }],
  });
  assert.equal(assigned.errorCode, KafkaError.NONE);

  // The consumer restarts: same instance id, no member id.
  const again = await client.request(ApiKey.JoinGroup, 5, { ...join, memberId: "" });
  assert.equal(again.errorCode, KafkaError.NONE);
  assert.equal(again.generationId, first.generationId, "no rebalance");
  assert.notEqual(again.memberId, first.memberId);
  const resynced = await client.request(ApiKey.SyncGroup, 3, {
    groupId,
    generationId: again.generationId,
    memberId: again.memberId,
    groupInstanceId,
    assignments: [],
  });
  assert.equal(resynced.errorCode, KafkaError.NONE);
  assert.equal(String(resynced.assignment), "partitions 0-1", "its partitions stayed its own");
  const beat = { groupId, generationId: again.generationId, groupInstanceId };
  const fenced = await client.request(ApiKey.Heartbeat, 3, { ...beat, memberId: first.memberId });
  assert.equal(fenced.errorCode, KafkaError.FENCED_INSTANCE_ID);
  const alive = await client.request(ApiKey.Heartbeat, 3, { ...beat, memberId: again.memberId });
  assert.equal(alive.errorCode, KafkaError.NONE);

  const left = await client.request(ApiKey.LeaveGroup, 3, {
    groupId,
    members: [{ memberId: "", groupInstanceId }],
  });
  assert.deepEqual(
    left.members.map((m) => m.errorCode),
    [KafkaError.NONE],
  );
  const gone = await client.request(ApiKey.Heartbeat, 3, { ...beat, memberId: again.memberId });
  assert.equal(gone.errorCode, KafkaError.UNKNOWN_MEMBER_ID);
});

test("DeleteGroups v0-2: an empty group goes with its offsets; a live or unknown one does not", async () => {
  const { memberId } = await joinedMember("delete-live");
  for (const version of [0, 1, 2]) {
    const doomed = `delete-offsets-${version}`;
    await commitStandalone(doomed, "wire", [0], 5n);
    assert.equal(await committedOffset(doomed, "wire", 0), 5n);
    const answer = await client.request(ApiKey.DeleteGroups, version, {
      groupsNames: [doomed, "delete-live", "delete-nobody", ""],
    });
    assert.deepEqual(
      answer.results.map((r) => [r.groupId, r.errorCode]),
      [
        [doomed, KafkaError.NONE],
        ["delete-live", KafkaError.NON_EMPTY_GROUP],
        ["delete-nobody", KafkaError.GROUP_ID_NOT_FOUND],
        ["", KafkaError.INVALID_GROUP_ID],
      ],
    );
    assert.equal(await committedOffset(doomed, "wire", 0), -1n, "its offsets went with it");
    const again = await client.request(ApiKey.DeleteGroups, version, { groupsNames: [doomed] });
    assert.equal(again.results[0].errorCode, KafkaError.GROUP_ID_NOT_FOUND);
  }
  // Once its last member has left, the group can go.
  const left = await client.request(ApiKey.LeaveGroup, 0, { groupId: "delete-live", memberId });
  assert.equal(left.errorCode, KafkaError.NONE);
  const deleted = await client.request(ApiKey.DeleteGroups, 2, { groupsNames: ["delete-live"] });
  assert.equal(deleted.results[0].errorCode, KafkaError.NONE);
  const listed = await client.request(ApiKey.ListGroups, 2, {});
  assert.ok(!listed.groups.some((g) => g.groupId === "delete-live"), "no longer listed");
});

test("OffsetDelete: any partition of an empty group, unsubscribed topics of a live one", async () => {
  await createTopic(client, "od-read", 2);
  await createTopic(client, "od-other", 1);
  const offsetDelete = (groupId: string, topics: { name: string; partitions: number[] }[]) =>
    client.request(ApiKey.OffsetDelete, 0, {
      groupId,
      topics: topics.map(({ name, partitions }) => ({
        name,
        partitions: partitions.map((partitionIndex) => ({ partitionIndex })),
      })),
    });
  const codes = (answer: Awaited<ReturnType<typeof offsetDelete>>) =>
    answer.topics.map((t) => [t.name, t.partitions.map((p) => p.errorCode)]);

  // A group with offsets only: any of them can go.
  await commitStandalone("od-empty", "od-read", [0, 1]);
  const emptied = await offsetDelete("od-empty", [
    { name: "od-read", partitions: [0] },
    { name: "od-missing", partitions: [0] },
  ]);
  assert.equal(emptied.errorCode, KafkaError.NONE);
  assert.deepEqual(codes(emptied), [
    ["od-read", [KafkaError.NONE]],
    ["od-missing", [KafkaError.UNKNOWN_TOPIC_OR_PARTITION]],
  ]);
  assert.equal(await committedOffset("od-empty", "od-read", 0), -1n);
  assert.equal(await committedOffset("od-empty", "od-read", 1), 3n, "the other partition stays");

  // A live consumer group subscribed to od-read: its offsets there stay, od-other's go.
  await commitStandalone("od-live", "od-read", [0]);
  await commitStandalone("od-live", "od-other", [0]);
  const join = {
    ...joinRequest("od-live"),
    protocols: [{ name: "range", metadata: consumerSubscription(1, ["od-read"]) }],
  };
  const first = await client.request(ApiKey.JoinGroup, 5, { ...join, memberId: "" });
  const joined = await client.request(ApiKey.JoinGroup, 5, { ...join, memberId: first.memberId });
  assert.equal(joined.errorCode, KafkaError.NONE);
  const live = await offsetDelete("od-live", [
    { name: "od-read", partitions: [0] },
    { name: "od-other", partitions: [0] },
  ]);
  assert.deepEqual(codes(live), [
    ["od-read", [KafkaError.GROUP_SUBSCRIBED_TO_TOPIC]],
    ["od-other", [KafkaError.NONE]],
  ]);
  assert.equal(await committedOffset("od-live", "od-read", 0), 3n);
  assert.equal(await committedOffset("od-live", "od-other", 0), -1n);

  // Group-level refusals.
  const connect = { ...join, groupId: "od-connect", protocolType: "connect" };
  const c1 = await client.request(ApiKey.JoinGroup, 5, { ...connect, memberId: "" });
  await client.request(ApiKey.JoinGroup, 5, { ...connect, memberId: c1.memberId });
  const refusals = [
    ["od-connect", KafkaError.NON_EMPTY_GROUP],
    ["od-nobody", KafkaError.GROUP_ID_NOT_FOUND],
    ["", KafkaError.INVALID_GROUP_ID],
  ] as const;
  for (const [groupId, errorCode] of refusals) {
    const answer = await offsetDelete(groupId, [{ name: "od-read", partitions: [0] }]);
    assert.deepEqual([answer.errorCode, answer.topics], [errorCode, []], groupId);
  }
});

test("ListGroups v3-4 (flexible, states filter) and DescribeGroups v3-5 (operations, instance ids)", async () => {
  const join = joinRequest("lg-live", "instance-1");
  const joined = await client.request(ApiKey.JoinGroup, 5, { ...join, memberId: "" });
  assert.equal(joined.errorCode, KafkaError.NONE, "a static member joins at once");
  await commitStandalone("lg-offsets", "wire", [0]);
  const states = async (version: number, statesFilter: string[]) => {
    const listed = await client.request(ApiKey.ListGroups, version, { statesFilter });
    assert.equal(listed.errorCode, KafkaError.NONE);
    return new Map(listed.groups.map((g) => [g.groupId, g.groupState]));
  };
  const all = await states(4, []);
  assert.equal(all.get("lg-live"), "CompletingRebalance");
  assert.equal(all.get("lg-offsets"), "Empty");
  const empty = await states(4, ["Empty"]);
  assert.ok(empty.has("lg-offsets") && !empty.has("lg-live"), [...empty.keys()].join());
  assert.ok((await states(3, [])).has("lg-live"), "v3, the first flexible version");

  for (const version of [3, 4, 5]) {
    for (const includeAuthorizedOperations of [true, false]) {
      const described = await client.request(ApiKey.DescribeGroups, version, {
        groups: ["lg-live"],
        includeAuthorizedOperations,
      });
      const [group] = described.groups;
      assert.equal(group.groupState, "CompletingRebalance");
      // READ, DELETE and DESCRIBE (no [kafka_acl] rules); INT32_MIN when not asked for.
      const operations = includeAuthorizedOperations ? (1 << 3) | (1 << 6) | (1 << 8) : -(2 ** 31);
      assert.equal(group.authorizedOperations, operations, `v${version}`);
      const [member] = group.members;
      assert.equal(member.memberId, joined.memberId);
      assert.equal(member.groupInstanceId, version >= 4 ? "instance-1" : null, `v${version}`);
    }
  }
});

test("JoinGroup before v5 (no group instance id): two members share the group, neither replaces the other", async () => {
  const join = { ...joinRequest("old-clients"), sessionTimeoutMs: 5000, rebalanceTimeoutMs: 5000 };
  const a = await client.request(ApiKey.JoinGroup, 3, { ...join, memberId: "" });
  assert.deepEqual([a.errorCode, a.generationId], [KafkaError.NONE, 1]);
  const other = await WireClient.connect(broker.kafkaPort ?? 0);
  try {
    // B's join starts a rebalance, which A learns from its heartbeat (as a client does), and
    // waits for A to rejoin; A rejoins as itself.
    const b = other.request(ApiKey.JoinGroup, 3, { ...join, memberId: "" });
    const heartbeat = { groupId: join.groupId, generationId: 1, memberId: a.memberId };
    for (let tries = 0; ; tries++) {
      const beat = await client.request(ApiKey.Heartbeat, 3, heartbeat);
      if (beat.errorCode === KafkaError.REBALANCE_IN_PROGRESS) break;
      assert.ok(tries < 100 && beat.errorCode === KafkaError.NONE, `heartbeat ${beat.errorCode}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const again = await client.request(ApiKey.JoinGroup, 3, { ...join, memberId: a.memberId });
    const joined = await b;
    assert.deepEqual([again.errorCode, joined.errorCode], [KafkaError.NONE, KafkaError.NONE]);
    assert.deepEqual([again.generationId, joined.generationId], [2, 2]);
    assert.notEqual(joined.memberId, a.memberId);
    const leader = again.leader === a.memberId ? again : joined;
    assert.deepEqual(
      leader.members.map((m) => m.memberId).sort(),
      [a.memberId, joined.memberId].sort(),
    );
  } finally {
    other.close();
  }
});

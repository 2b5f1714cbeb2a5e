/**
 * Committed offsets of a group without members expire offsets_retention_ms after the group's
 * last commit (Kafka's offsets.retention.minutes); a group with a member keeps them.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiKey } from "../../src/protocol/kafka/api-keys.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { createTopic } from "../helpers/kafka-wire.ts";
import { WireClient } from "../unit/protocol/kafka/wire-client.ts";

async function commit(client: WireClient, groupId: string, generation = -1, memberId = "") {
  const committed = await client.request(ApiKey.OffsetCommit, 7, {
    groupId,
    generationIdOrMemberEpoch: generation,
    memberId,
    retentionTimeMs: -1n,
    topics: [{ name: "expiry", partitions: [{ partitionIndex: 0, committedOffset: 3n }] }],
  });
  assert.equal(committed.topics[0].partitions[0].errorCode, 0);
}

async function committedOffset(client: WireClient, groupId: string): Promise<bigint> {
  const fetched = await client.request(ApiKey.OffsetFetch, 5, {
    groupId,
    topics: [{ name: "expiry", partitionIndexes: [0] }],
  });
  return fetched.topics[0].partitions[0].committedOffset;
}

test("an empty group's offsets expire; a group with a member keeps its own", async () => {
  const broker: BrokerProcess = await startBroker({
    logLevel: "info",
    config:
      "[kafka]\noffsets_retention_ms = 1000\noffsets_retention_check_interval_ms = 200\n" +
      "group_min_session_timeout_ms = 1000\ngroup_initial_rebalance_delay_ms = 0\n",
  });
  const client = await WireClient.connect(broker.kafkaPort ?? 0);
  try {
    await createTopic(client, "expiry");
    const join = await client.request(ApiKey.JoinGroup, 5, {
      groupId: "alive",
      sessionTimeoutMs: 30_000,
      rebalanceTimeoutMs: 30_000,
      memberId: "",
      protocolType: "consumer",
      protocols: [{ name: "range", metadata: Buffer.from("m") }],
    });
    // v5: the first join answers MEMBER_ID_REQUIRED with the id to use.
    const rejoin = await client.request(ApiKey.JoinGroup, 5, {
      groupId: "alive",
      sessionTimeoutMs: 30_000,
      rebalanceTimeoutMs: 30_000,
      memberId: join.memberId,
      protocolType: "consumer",
      protocols: [{ name: "range", metadata: Buffer.from("m") }],
    });
    assert.equal(rejoin.errorCode, 0);
    const synced = await client.request(ApiKey.SyncGroup, 0, {
      groupId: "alive",
      generationId: rejoin.generationId,
      memberId: rejoin.memberId,
      assignments: [{ memberId: rejoin.memberId, assignment: Buffer.from("all") }],
    });
    assert.equal(synced.errorCode, 0);
    await commit(client, "alive", rejoin.generationId, rejoin.memberId);
    await commit(client, "gone");
    assert.equal(await committedOffset(client, "gone"), 3n);
    const line = await broker.waitForLog((l) => l.msg === "committed offsets expired", 5000);
    assert.deepEqual(line.groups, ["gone"]);
    assert.equal(await committedOffset(client, "gone"), -1n);
    // Keep the member alive past the retention, then check its group kept its offsets.
    const heartbeat = await client.request(ApiKey.Heartbeat, 3, {
      groupId: "alive",
      generationId: rejoin.generationId,
      memberId: rejoin.memberId,
    });
    assert.equal(heartbeat.errorCode, 0);
    assert.equal(await committedOffset(client, "alive"), 3n);
  } finally {
    client.close();
    await broker.stop();
  }
});
